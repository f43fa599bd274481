"""A complete RFC 5322 message for a newsletter: what a mail client or an ESP imports as it is.

The message is deterministic for a piece (Message-ID and MIME boundary derive from its key), so a
re-run produces the same bytes and the same checksum in the manifest.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

UNSUBSCRIBE_PLACEHOLDER = "%%unsubscribe_url%%"


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
) -> bytes:
    """multipart/alternative (text first, HTML preferred), UTF-8, RFC 2047 encoded headers.

    ``List-Unsubscribe`` carries a placeholder the sending channel replaces per subscriber.
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
    message["List-Unsubscribe"] = f"<{UNSUBSCRIBE_PLACEHOLDER}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["X-Preheader"] = preheader
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    message.set_boundary(f"=_depesche_{digest[32:56]}")
    return message.as_bytes(policy=SMTP)
