"""A complete RFC 5322 message for a newsletter: what a mail client or an ESP imports as it is.

The message is deterministic for a piece (Message-ID and MIME boundaries derive from its key), so
a re-run produces the same bytes and the same checksum in the manifest. Headers with umlauts are
RFC 2047 encoded by the ``email`` package's SMTP policy; bodies are UTF-8, quoted-printable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

# Replaced per subscriber by the sending channel (RFC 2369 / RFC 8058 one-click).
UNSUBSCRIBE_PLACEHOLDER = "%%unsubscribe_url%%"
UNSUBSCRIBE_MAILTO_PLACEHOLDER = "%%unsubscribe_mailto%%"


@dataclass(frozen=True)
class Attachment:
    filename: str
    maintype: str
    subtype: str
    content: bytes
    params: tuple[tuple[str, str], ...] = ()


def _address(display: str, email: str) -> Address:
    local, _, domain = email.partition("@")
    return Address(display_name=display, username=local, domain=domain)


def build_eml(
    *,
    key: str,
    sender_name: str,
    sender_email: str,
    reply_to: str | None,
    subject: str,
    preheader: str,
    text: str,
    html: str,
    date: datetime,
    attachments: Sequence[Attachment] = (),
) -> bytes:
    """multipart/alternative (text first, HTML preferred), UTF-8, RFC 2047 encoded headers.

    With attachments (Termine as ``.ics``) the alternative part is the first part of a
    multipart/mixed message, which is where every mail client expects it.
    ``List-Unsubscribe`` carries placeholders the sending channel replaces per subscriber.
    """
    digest = hashlib.sha256(key.encode()).hexdigest()
    domain = sender_email.partition("@")[2] or "depesche.invalid"
    message = EmailMessage(policy=SMTP)
    message["From"] = _address(sender_name, sender_email)
    message["To"] = _address(sender_name, sender_email)
    if reply_to:
        message["Reply-To"] = _address(sender_name, reply_to)
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = f"<{digest[:32]}@{domain}>"
    message["List-Unsubscribe"] = f"<{UNSUBSCRIBE_MAILTO_PLACEHOLDER}>, <{UNSUBSCRIBE_PLACEHOLDER}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["X-Preheader"] = preheader
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    message.set_boundary(f"=_depesche_alt_{digest[32:56]}")
    for attachment in attachments:
        message.add_attachment(
            attachment.content,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=attachment.filename,
            params=dict(attachment.params),
        )
    if attachments:
        message.set_boundary(f"=_depesche_mix_{digest[32:56]}")
        alternative = message.get_payload(0)
        assert isinstance(alternative, EmailMessage)
        alternative.set_boundary(f"=_depesche_alt_{digest[32:56]}")
    return message.as_bytes(policy=SMTP)
