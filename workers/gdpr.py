"""One person's data on request (Art. 15/20 DSGVO), its erasure (Art. 17), and retention.

Erasure deletes the person's subscriptions, consent records and press entries, and blanks
their address in the delivery records (which stay, under their ``subscriber:N`` ref, for the
campaign statistics). It then adds the address's *hash* to the suppression list: an erased
address would otherwise come straight back with the next import of an old spreadsheet, and
mail to someone who asked to be forgotten is the one outcome the erasure must prevent. The hash
identifies no one by itself and cannot be used to write to the person; keeping it is what
Art. 17 Abs. 3 lit. b/e and Art. 21 DSGVO allow to honour the request. A later sign-up by
the person themselves, confirmed by the link in the mail, lifts it (``subscribers.confirm``).

Retention: unconfirmed sign-ups older than ``unconfirmed_retention_days`` and finished
delivery records older than ``delivery_retention_days`` are deleted by :func:`purge`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from config.db import session_scope
from config.models import record_event
from config.settings import Settings
from workers.addresses import address_hash, normalise_address
from workers.models import FINAL, PENDING, SUPPRESSED, Delivery
from workers.subscriber_models import (
    UNCONFIRMED,
    ConsentRecord,
    ConsentText,
    PressContact,
    Subscriber,
    Suppression,
)
from workers.subscribers import subscriber_ref, suppress

ERASED_TARGET = "(gelöscht)"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _refs(session: Session, address: str) -> tuple[list[Subscriber], list[PressContact]]:
    subscribers = list(
        session.scalars(
            select(Subscriber).where(Subscriber.address == address).order_by(Subscriber.id)
        )
    )
    contacts = list(
        session.scalars(
            select(PressContact).where(PressContact.address == address).order_by(PressContact.id)
        )
    )
    return subscribers, contacts


def _delivery_filter(address: str, refs: list[str]) -> Any:
    conditions = [Delivery.target == address]
    if refs:
        conditions.append(Delivery.target_ref.in_(refs))
    return or_(*conditions)


def export_person(session: Session, address: str, *, now: datetime) -> dict[str, Any]:
    """Everything stored about ``address``: subscriptions with consent proofs, press entries,
    delivery records, and whether it is suppressed."""
    address = normalise_address(address)
    subscribers, contacts = _refs(session, address)
    refs = [subscriber_ref(s.id) for s in subscribers] + [f"journalist:{c.id}" for c in contacts]
    subscriptions = []
    for s in subscribers:
        records = session.execute(
            select(ConsentRecord, ConsentText.text)
            .outerjoin(ConsentText, ConsentText.version == ConsentRecord.consent_version)
            .where(ConsentRecord.subscriber_id == s.id)
            .order_by(ConsentRecord.at)
        ).all()
        subscriptions.append(
            {
                "ref": subscriber_ref(s.id),
                "initiative": s.initiative,
                "name": s.name,
                "audience": s.audience,
                "status": s.status,
                "source": s.source,
                "created_at": _iso(s.created_at),
                "confirmation_sent_at": _iso(s.confirmation_sent_at),
                "confirmed_at": _iso(s.confirmed_at),
                "unsubscribed_at": _iso(s.unsubscribed_at),
                "consent": [
                    {
                        "action": record.action,
                        "at": _iso(record.at),
                        "ip": record.ip,
                        "consent_version": record.consent_version,
                        "consent_text": text,
                        "note": record.note,
                    }
                    for record, text in records
                ],
            }
        )
    deliveries = session.scalars(
        select(Delivery).where(_delivery_filter(address, refs)).order_by(Delivery.id)
    )
    suppression = session.scalar(
        select(Suppression).where(Suppression.address_hash == address_hash(address))
    )
    return {
        "address": address,
        "exported_at": now.isoformat(),
        "subscriptions": subscriptions,
        "press_lists": [
            {
                "ref": f"journalist:{c.id}",
                "initiative": c.initiative,
                "name": c.name,
                "outlet": c.outlet,
                "beat": c.beat,
                "created_at": _iso(c.created_at),
            }
            for c in contacts
        ],
        "deliveries": [
            {
                "key": d.key,
                "channel": d.channel,
                "status": d.status,
                "created_at": _iso(d.created_at),
                "delivered_at": _iso(d.delivered_at),
                "message_id": d.external_id,
            }
            for d in deliveries
        ],
        "suppressed": (
            {"reason": suppression.reason, "since": _iso(suppression.created_at)}
            if suppression
            else None
        ),
    }


@dataclass(frozen=True)
class Erasure:
    subscriptions: int
    press_entries: int
    deliveries: int


def erase_person(session: Session, address: str, *, now: datetime) -> Erasure:
    """Remove the person's address and personal data; keep a hashed suppression entry."""
    address = normalise_address(address)
    subscribers, contacts = _refs(session, address)
    refs = [subscriber_ref(s.id) for s in subscribers] + [f"journalist:{c.id}" for c in contacts]
    which = _delivery_filter(address, refs)
    # A delivery not yet sent must not leave for an address that no longer exists.
    session.execute(
        update(Delivery)
        .where(which, Delivery.status == PENDING)
        .values(status=SUPPRESSED, last_error="address erased on request")
        .execution_options(synchronize_session=False)
    )
    blanked = session.execute(
        update(Delivery)
        .where(which)
        .values(target=ERASED_TARGET, options={})
        .execution_options(synchronize_session=False)
    )
    ids = [s.id for s in subscribers]
    if ids:
        session.execute(delete(ConsentRecord).where(ConsentRecord.subscriber_id.in_(ids)))
        session.execute(delete(Subscriber).where(Subscriber.id.in_(ids)))
    if contacts:
        session.execute(delete(PressContact).where(PressContact.id.in_([c.id for c in contacts])))
    digest = address_hash(address)
    existing = session.scalar(select(Suppression).where(Suppression.address_hash == digest))
    if existing is None:
        suppress(session, digest, "erased", now=now)
    record_event(
        session,
        "person.erased",
        f"person.erased|{digest}|{now.isoformat()}",
        {"refs": refs},
        now,
    )
    return Erasure(len(subscribers), len(contacts), int(getattr(blanked, "rowcount", 0) or 0))


@dataclass(frozen=True)
class Purge:
    unconfirmed: int
    deliveries: int


def purge(session: Session, *, now: datetime, unconfirmed_days: int, delivery_days: int) -> Purge:
    """Delete sign-ups never confirmed within the retention period, and old delivery records."""
    cutoff = now - timedelta(days=unconfirmed_days)
    last_touched = func.coalesce(Subscriber.confirmation_requested_at, Subscriber.created_at)
    stale = list(
        session.scalars(
            select(Subscriber.id).where(Subscriber.status == UNCONFIRMED, last_touched < cutoff)
        )
    )
    if stale:
        session.execute(delete(ConsentRecord).where(ConsentRecord.subscriber_id.in_(stale)))
        session.execute(delete(Subscriber).where(Subscriber.id.in_(stale)))
    old = now - timedelta(days=delivery_days)
    result = session.execute(
        delete(Delivery)
        .where(Delivery.created_at < old, Delivery.status.in_(sorted(FINAL)))
        .execution_options(synchronize_session=False)
    )
    return Purge(len(stale), int(getattr(result, "rowcount", 0) or 0))


def purge_expired(settings: Settings, *, now: datetime) -> dict[str, int]:
    """:func:`purge` with the retention periods of ``settings``, in its own transaction."""
    with session_scope(settings.resolved_database_url) as session:
        done = purge(
            session,
            now=now,
            unconfirmed_days=settings.unconfirmed_retention_days,
            delivery_days=settings.delivery_retention_days,
        )
    return {"unconfirmed": done.unconfirmed, "deliveries": done.deliveries}
