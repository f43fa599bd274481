"""The mails delivery writes itself: a press release to one journalist, a content pack.

A newsletter arrives composed as ``.eml``; a press release is files (PDF, DOCX, HTML, Markdown)
and a pack is a ZIP, so for mail they get a short, personal cover message here, in German, with
the files attached. Nothing in it is invented: the headline and text come from the piece; the
cover sentences only say what is attached. The SMTP channel sets To and the Message-ID.
"""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Protocol

from content.models import Piece
from workers.channels.base import Attachment
from workers.channels.folder import pack_of
from workers.execution import bundle_from


class Addressed(Protocol):
    """What a cover mail needs of a delivery: its channel, recipient and routing options."""

    @property
    def channel(self) -> str: ...

    @property
    def target(self) -> str: ...

    @property
    def options(self) -> dict[str, str]: ...


def _address(name: str, email: str) -> Address:
    local, _, domain = email.partition("@")
    return Address(display_name=name, username=local, domain=domain)


def _salutation(name: str | None) -> str:
    return f"Guten Tag {name}," if name else "Sehr geehrte Damen und Herren,"


def cover_mail(
    *,
    options: dict[str, str],
    to: str,
    subject: str,
    text: str,
    attachments: tuple[Attachment, ...],
    date: datetime,
) -> Attachment:
    """A plain-text mail with ``attachments``, as the ``.eml`` the SMTP channel sends."""
    message = EmailMessage(policy=SMTP)
    message["From"] = _address(options.get("from_name", ""), options["from_address"])
    message["To"] = to
    if options.get("reply_to"):
        message["Reply-To"] = options["reply_to"]
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    for attachment in attachments:
        maintype, _, subtype = attachment.media_type.partition("/")
        message.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.name
        )
    return Attachment("cover.eml", "message/rfc822", message.as_bytes(policy=SMTP))


def press_mail(
    piece: Piece, files: tuple[Attachment, ...], delivery: Addressed, *, date: datetime
) -> tuple[Attachment, ...]:
    """One journalist's mail: the release as text, the PDF and DOCX attached."""
    facts = piece.provenance.get("facts") or {}
    headline = str(facts.get("headline") or "Pressemitteilung")
    markdown = next((f.content.decode() for f in files if f.name.endswith(".md")), "")
    sender = delivery.options.get("from_name", "")
    text = (
        f"{_salutation(delivery.options.get('to_name'))}\n\n"
        f"anbei erhalten Sie die Pressemitteilung „{headline}“ von {sender} "
        "als Text, PDF und Word-Datei.\n\n"
        f"{markdown.strip()}\n"
    )
    attached = tuple(f for f in files if f.name.endswith((".pdf", ".docx")))
    eml = cover_mail(
        options=delivery.options,
        to=delivery.target,
        subject=f"Pressemitteilung: {headline}",
        text=text,
        attachments=attached,
        date=date,
    )
    return (eml, *files)


def pack_mail(
    piece: Piece, pack: tuple[Attachment, ...], delivery: Addressed, *, date: datetime
) -> tuple[Attachment, ...]:
    """The initiative's contact gets the slot's pack as one ZIP."""
    name = pack[0].name if pack else "Inhaltspaket.zip"
    text = (
        f"{_salutation(delivery.options.get('to_name'))}\n\n"
        f"im Anhang finden Sie das Inhaltspaket {name} der Kampagne „{piece.campaign}“: "
        "alle Texte und Dateien, fertig zur Veröffentlichung, und die Übersicht "
        "manifest.json.\n"
    )
    eml = cover_mail(
        options=delivery.options,
        to=delivery.target,
        subject=f"Inhaltspaket: {name.removesuffix('.zip')}",
        text=text,
        attachments=pack,
        date=date,
    )
    return (eml, *pack)


def pack_files(
    piece: Piece, folder: str, due_at: str, siblings: list[Piece]
) -> tuple[Attachment, ...]:
    """The slot's ZIP, byte for byte the one the folder channel writes beside the files."""
    bundle = bundle_from(piece.initiative, piece.campaign, folder, due_at, siblings)
    pack = pack_of(bundle)
    return (Attachment(pack.name, "application/zip", pack.content),)
