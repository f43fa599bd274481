"""Subscriber lists per initiative: sign-up, double opt-in, unsubscribe, and who gets a piece.

Delivery asks three questions here (the contract in ``workers/recipients.py``):
:func:`email_recipients`, :func:`press_recipients` and :func:`is_suppressed`. Only confirmed,
not unsubscribed, not suppressed addresses are ever returned, so an unconfirmed sign-up
receives nothing but its confirmation mail. Every change is keyed by the row it touches (the
unique ``(initiative, address)``) and is a no-op when repeated, so a retried request or a
clicked-twice link changes nothing the second time.

Events carry the subscriber's ref (``subscriber:17``), never the address: the outbox is an
audit trail that outlives a GDPR erasure.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns.schema import Campaign, NewsletterDeliverable
from config.models import record_event
from config.settings import current_settings
from workers.addresses import address_hash, normalise_address
from workers.recipients import Recipient
from workers.subscriber_models import (
    CONFIRMED,
    UNCONFIRMED,
    UNSUBSCRIBED,
    ConsentRecord,
    PressContact,
    Subscriber,
    Suppression,
)
from workers.tokens import unsubscribe_signer, unsubscribe_token

# A repeated sign-up of an unconfirmed address sends a new confirmation mail only after this
# long, so the form cannot be used to flood someone's inbox.
RESEND_AFTER = timedelta(minutes=15)
_SUPPRESSION_CHUNK = 500


def subscriber_ref(subscriber_id: int) -> str:
    return f"subscriber:{subscriber_id}"


def find_subscriber(session: Session, initiative: str, address: str) -> Subscriber | None:
    return session.scalar(
        select(Subscriber).where(
            Subscriber.initiative == initiative, Subscriber.address == normalise_address(address)
        )
    )


def sign_up(
    session: Session,
    *,
    initiative: str,
    address: str,
    name: str | None,
    audience: str | None,
    source: str,
    ip: str | None,
    consent_version: str | None,
    now: datetime,
    note: str | None = None,
) -> Subscriber:
    """Put ``address`` on the list, unconfirmed; repeat-safe.

    A confirmed subscriber stays as it is (the sign-up neither reveals nor changes anything);
    an unsubscribed one starts over and must confirm again; an unconfirmed one gets its name
    and audience updated and, when :func:`confirmation_due`, a new confirmation mail.
    """
    normalised = normalise_address(address)
    subscriber = session.scalar(
        select(Subscriber).where(
            Subscriber.initiative == initiative, Subscriber.address == normalised
        )
    )
    if subscriber is None:
        subscriber = Subscriber(
            initiative=initiative,
            address=normalised,
            name=name or None,
            audience=audience,
            status=UNCONFIRMED,
            source=source,
            created_at=now,
        )
        try:
            with session.begin_nested():
                session.add(subscriber)
        except IntegrityError:  # a concurrent sign-up of the same address won the race
            found = find_subscriber(session, initiative, normalised)
            assert found is not None
            subscriber = found
    if subscriber.status == CONFIRMED:
        return subscriber
    if subscriber.status == UNSUBSCRIBED:
        subscriber.status = UNCONFIRMED
        subscriber.confirmation_requested_at = None
        subscriber.confirmation_sent_at = None
    subscriber.name = name or subscriber.name
    subscriber.audience = audience or subscriber.audience
    _record(session, subscriber.id, "signup", now, ip, consent_version, note)
    return subscriber


def _record(
    session: Session,
    subscriber_id: int,
    action: str,
    now: datetime,
    ip: str | None,
    version: str | None,
    note: str | None,
) -> None:
    """One record per subscriber and action; a new sign-up replaces a withdrawn one."""
    record = session.scalar(
        select(ConsentRecord).where(
            ConsentRecord.subscriber_id == subscriber_id, ConsentRecord.action == action
        )
    )
    if record is None:
        record = ConsentRecord(subscriber_id=subscriber_id, action=action)
        session.add(record)
    record.at, record.ip, record.consent_version, record.note = now, ip, version, note
    session.flush()


def confirmation_due(subscriber: Subscriber, now: datetime) -> bool:
    if subscriber.status != UNCONFIRMED:
        return False
    last = subscriber.confirmation_requested_at
    return last is None or now - last >= RESEND_AFTER


def confirm(
    session: Session,
    subscriber_id: int,
    consent_version: str | None,
    *,
    ip: str | None,
    now: datetime,
) -> Subscriber | None:
    """Record the confirmation click (when, from where, which text); None if the row is gone.

    An unsubscribe beats an older confirmation link: an unsubscribed subscriber stays so.
    """
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.status != UNCONFIRMED:
        return subscriber
    subscriber.status = CONFIRMED
    subscriber.confirmed_at = now
    _record(session, subscriber.id, "confirm", now, ip, consent_version, None)
    # The click proves both that the address receives mail and that its owner wants ours.
    suppression = session.scalar(
        select(Suppression).where(Suppression.address_hash == address_hash(subscriber.address))
    )
    if suppression is not None:
        session.delete(suppression)
    _event(session, "subscriber.confirmed", subscriber, now)
    return subscriber


def confirm_documented(
    session: Session, subscriber: Subscriber, *, note: str, now: datetime
) -> None:
    """Mark an imported subscriber confirmed on an operator's statement of prior consent."""
    if subscriber.status == CONFIRMED:
        return
    subscriber.status = CONFIRMED
    subscriber.confirmed_at = now
    _record(session, subscriber.id, "documented", now, None, None, note)
    _event(session, "subscriber.confirmed", subscriber, now)


def unsubscribe(
    session: Session, subscriber_id: int, initiative: str, *, now: datetime
) -> Subscriber | None:
    """Take the subscriber off the list at once; a repeat changes nothing."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.initiative != initiative:
        return None
    if subscriber.status != UNSUBSCRIBED:
        subscriber.status = UNSUBSCRIBED
        subscriber.unsubscribed_at = now
        _event(session, "subscriber.unsubscribed", subscriber, now)
    return subscriber


def _event(session: Session, type_: str, subscriber: Subscriber, now: datetime) -> None:
    ref = subscriber_ref(subscriber.id)
    record_event(
        session,
        type_,
        f"{type_}|{ref}|{now.isoformat()}",
        {"subscriber": ref, "initiative": subscriber.initiative, "audience": subscriber.audience},
        now,
    )


# --- suppression ---------------------------------------------------------------------------------


def is_suppressed(session: Session, address: str) -> bool:
    """Whether no mail may go to ``address`` (bounced, complained, or erased)."""
    found = session.scalar(
        select(Suppression.id).where(Suppression.address_hash == address_hash(address))
    )
    return found is not None


def refuses_confirmation_mail(session: Session, address: str) -> bool:
    """Whether a sign-up of ``address`` must not even get a confirmation mail.

    Bounced and complained addresses get none. An erased address does: the erasure guards
    against imports, and a person signing up again themselves is a new, provable consent.
    """
    reason = session.scalar(
        select(Suppression.reason).where(Suppression.address_hash == address_hash(address))
    )
    return reason is not None and reason != "erased"


def suppress(
    session: Session, address_or_hash: str, reason: str, *, now: datetime, detail: str | None = None
) -> bool:
    """Add an address (or its hash, 64 hex digits) to the suppression list; False if listed."""
    digest = address_or_hash if _is_hash(address_or_hash) else address_hash(address_or_hash)
    if session.scalar(select(Suppression.id).where(Suppression.address_hash == digest)):
        return False
    try:
        with session.begin_nested():
            session.add(
                Suppression(address_hash=digest, reason=reason, detail=detail, created_at=now)
            )
    except IntegrityError:
        return False
    return True


def _is_hash(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def suppressed_hashes(
    session: Session, addresses: Iterable[str], *, hashed: bool = False
) -> set[str]:
    """The hashes among ``addresses`` (or among hashes, ``hashed=True``) that are suppressed,
    asked in chunks."""
    hashes = sorted(set(addresses) if hashed else {address_hash(a) for a in addresses})
    found: set[str] = set()
    for start in range(0, len(hashes), _SUPPRESSION_CHUNK):
        chunk = hashes[start : start + _SUPPRESSION_CHUNK]
        found.update(
            session.scalars(
                select(Suppression.address_hash).where(Suppression.address_hash.in_(chunk))
            )
        )
    return found


# --- the contract with delivery ------------------------------------------------------------------


def unsubscribe_url(subscriber_id: int, initiative: str) -> str:
    settings = current_settings()
    token = unsubscribe_token(settings.secret_key, subscriber_id, initiative)
    return f"{settings.public_url.rstrip('/')}/u/{token}"


def email_recipients(session: Session, initiative: str, audience: str | None) -> list[Recipient]:
    """Confirmed, not unsubscribed, not suppressed subscribers of one audience.

    ``audience=None`` (a newsletter without audience variants) means every subscriber of the
    initiative; a named audience returns only the subscribers who chose it.
    """
    query = select(Subscriber.id, Subscriber.address, Subscriber.name, Subscriber.audience).where(
        Subscriber.initiative == initiative, Subscriber.status == CONFIRMED
    )
    if audience is not None:
        query = query.where(Subscriber.audience == audience)
    rows = session.execute(query.order_by(Subscriber.id)).all()
    hashes = {row.address: address_hash(row.address, normalised=True) for row in rows}
    suppressed = suppressed_hashes(session, hashes.values(), hashed=True)
    settings = current_settings()
    sign = unsubscribe_signer(settings.secret_key)
    base = f"{settings.public_url.rstrip('/')}/u/"
    return [
        Recipient(
            address=row.address,
            name=row.name,
            ref=subscriber_ref(row.id),
            audience=row.audience,
            unsubscribe_url=base + sign(row.id, initiative),
        )
        for row in rows
        if hashes[row.address] not in suppressed
    ]


def press_recipients(session: Session, initiative: str) -> list[Recipient]:
    """The initiative's Presseverteiler, without suppressed addresses."""
    contacts = list(
        session.scalars(
            select(PressContact)
            .where(PressContact.initiative == initiative)
            .order_by(PressContact.id)
        )
    )
    suppressed = suppressed_hashes(session, (c.address for c in contacts))
    return [
        Recipient(address=c.address, name=c.name, ref=f"journalist:{c.id}")
        for c in contacts
        if address_hash(c.address) not in suppressed
    ]


def audience_choices(campaigns: Iterable[Campaign]) -> dict[str, str]:
    """Audience id → name, from every newsletter's audience variants (first name wins)."""
    choices: dict[str, str] = {}
    for campaign in campaigns:
        for deliverable in campaign.deliverables:
            if isinstance(deliverable, NewsletterDeliverable):
                for audience in deliverable.audiences:
                    choices.setdefault(audience.id, audience.name)
    return choices
