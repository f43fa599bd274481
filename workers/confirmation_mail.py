"""The double opt-in mail: confirms the sign-up and nothing else (no teaser, no promotion).

Composing is pure (``compose_confirmation``); sending goes through the SMTP channel's public
API. The mail's delivery key is the subscriber plus the instant the confirmation was requested,
so its Message-ID is the same on a retry and a receiver can drop a repeat.
"""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from sqlalchemy import select

from campaigns.schema import Initiative
from config.db import session_scope
from config.settings import Settings
from content.formatting import Formatter
from workers.channels.base import Attachment, Outgoing
from workers.channels.smtp import SmtpChannel
from workers.subscriber_models import ConsentRecord, Subscriber
from workers.subscribers import confirmation_due
from workers.tokens import CONFIRM_MAX_AGE, confirm_token, require_secret


class MailNotConfigured(RuntimeError):
    pass


def _address(display: str, email: str) -> Address:
    local, _, domain = email.partition("@")
    return Address(display_name=display, username=local, domain=domain)


def compose_confirmation(
    *,
    initiative: Initiative,
    address: str,
    name: str | None,
    confirm_url: str,
    requested_at: datetime,
    retention_days: int,
) -> bytes:
    fmt = Formatter(initiative.locale, initiative.timezone)
    expires = requested_at + CONFIRM_MAX_AGE
    imprint = initiative.imprint
    greeting = f"Guten Tag {name}," if name else "Guten Tag,"
    text = "\n".join(
        [
            greeting,
            "",
            f"am {fmt.date_long(requested_at)} um {fmt.time(requested_at)} wurde diese Adresse "
            f"für den Newsletter der {initiative.name} angemeldet. Bitte bestätigen Sie die "
            "Anmeldung über diesen Link:",
            "",
            confirm_url,
            "",
            f"Der Link gilt bis {fmt.date_long(expires)}, {fmt.time(expires)}. Wenn Sie sich "
            "nicht angemeldet haben, müssen Sie nichts tun: Ohne Bestätigung erhalten Sie "
            f"keinen Newsletter, und die Adresse wird nach {retention_days} Tagen gelöscht.",
            "",
            "Mit freundlichen Grüßen",
            initiative.sender.name,
            "",
            "-- ",
            f"{imprint.organisation}, {imprint.address}",
            f"Vertreten durch: {imprint.representative}",
            f"E-Mail: {imprint.email}, Telefon: {imprint.phone}",
            f"Datenschutz: {imprint.privacy_url}",
            "",
        ]
    )
    message = EmailMessage(policy=SMTP)
    message["From"] = _address(initiative.sender.name, initiative.sender.email)
    message["To"] = address
    if initiative.sender.reply_to:
        message["Reply-To"] = _address(initiative.sender.name, initiative.sender.reply_to)
    message["Subject"] = "Bitte bestätigen Sie Ihre Newsletter-Anmeldung"
    message["Date"] = format_datetime(requested_at)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    return message.as_bytes()


def send_confirmation(
    database_url: str,
    subscriber_id: int,
    *,
    initiative: Initiative,
    settings: Settings,
    now: datetime,
) -> bool:
    """Send the confirmation mail if one is due; True if it was sent.

    The request is recorded before the mail leaves and the send after it; a failed send clears
    the request so the next sign-up attempt tries again at once.
    """
    require_secret(settings.secret_key)
    if not settings.smtp_url:
        raise MailNotConfigured(
            "DEPESCHE_SMTP_URL is not set: the confirmation mail cannot be sent"
        )
    with session_scope(database_url) as session:
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None or not confirmation_due(subscriber, now):
            return False
        subscriber.confirmation_requested_at = now
        version = session.scalar(
            select(ConsentRecord.consent_version).where(
                ConsentRecord.subscriber_id == subscriber_id, ConsentRecord.action == "signup"
            )
        )
        token = confirm_token(settings.secret_key, subscriber_id, version, now=now)
        eml = compose_confirmation(
            initiative=initiative,
            address=subscriber.address,
            name=subscriber.name,
            confirm_url=f"{settings.public_url.rstrip('/')}/c/{token}",
            requested_at=now,
            retention_days=settings.unconfirmed_retention_days,
        )
        key = f"confirm|subscriber:{subscriber_id}|{now.isoformat()}"
        outgoing = Outgoing(
            delivery_key=key,
            piece_key=key,
            kind="notification",
            initiative=initiative.slug,
            target=subscriber.address,
            files=(Attachment("confirmation.eml", "message/rfc822", eml),),
        )
    try:
        with SmtpChannel.from_url(settings.smtp_url, settings=settings).connect() as connection:
            connection.send(outgoing)
    except Exception:
        with session_scope(database_url) as session:
            subscriber = session.get(Subscriber, subscriber_id)
            if subscriber is not None and subscriber.confirmation_requested_at == now:
                subscriber.confirmation_requested_at = None
        raise
    with session_scope(database_url) as session:
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is not None:
            subscriber.confirmation_sent_at = now
    return True
