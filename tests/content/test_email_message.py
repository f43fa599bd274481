"""The .eml writer against the ``email`` package: the same bytes, for umlauts, long headers and
attachments, and a message Python's parser reads back with both parts and every attachment."""

from __future__ import annotations

import email
import email.policy
import email.utils
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP

import pytest

from content.email_message import (
    UNSUBSCRIBE_MAILTO_PLACEHOLDER,
    UNSUBSCRIBE_PLACEHOLDER,
    Attachment,
    build_eml,
)

DATE = datetime(2026, 11, 16, 7, tzinfo=UTC)
ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nSUMMARY:Werkstattgespr\xc3\xa4ch\r\nEND:VCALENDAR\r\n" * 9
TERMIN = Attachment(
    "termin-20261201-industriedialog-koblenz.ics",
    "text",
    "calendar",
    ICS,
    (("method", "PUBLISH"), ("charset", "utf-8")),
)


def reference_eml(
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
    """The message built the long way, through ``EmailMessage``: what the writer must equal."""

    def address(display: str, mail: str) -> Address:
        local, _, domain = mail.partition("@")
        return Address(display_name=display, username=local, domain=domain)

    digest = hashlib.sha256(key.encode()).hexdigest()
    domain = sender_email.partition("@")[2] or "depesche.invalid"
    message = EmailMessage(policy=SMTP)
    message["From"] = address(sender_name, sender_email)
    message["To"] = address(sender_name, sender_email)
    if reply_to:
        message["Reply-To"] = address(sender_name, reply_to)
    message["Subject"] = subject
    message["Date"] = email.utils.format_datetime(date)
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


LONG_TEXT = "\n".join(
    f"Zeile {n}: Fachkräfte für die Wärmepumpen-Fertigung in Baden-Württemberg – „Qualität“ "
    f"{'x' * (n * 7 % 90)} Ende.  " + ("\t" if n % 5 == 0 else "")
    for n in range(60)
)
CASES = [
    {
        "sender_name": "Industrieinitiative Thüringen",
        "sender_email": "newsletter@thueringen.example.org",
        "reply_to": "redaktion@thueringen.example.org",
        "subject": "KW 47: Grüße aus Jena",
        "preheader": "Kurz",
        "attachments": (),
    },
    {
        "sender_name": "Industrieinitiative Krefeld",
        "sender_email": "newsletter@krefeld.example.org",
        "reply_to": "redaktion@krefeld.example.org",
        "subject": "KW 47: Wasserstoff-Hub Krefeld startet",
        "preheader": "Meldungen, Termine und Hintergründe der Industrieinitiative Krefeld",
        "attachments": (TERMIN,),
    },
    {
        "sender_name": "Allianz Industrie Thüringen e.V.",
        "sender_email": "newsletter@thueringen.example.org",
        "reply_to": None,
        "subject": "KW 47: Grüße aus Jena – Photonik, Optik und Fachkräftesicherung im Überblick "
        "für Betriebsrätinnen und Betriebsräte",
        "preheader": "Ä" * 120,
        "attachments": (),
    },
    {
        "sender_name": "Bündnis „Zukunft der Industrie“, Mittelrhein; Koblenz",
        "sender_email": "post@mittelrhein.example.org",
        "reply_to": "antwort@mittelrhein.example.org",
        "subject": "Plain ASCII subject",
        "preheader": "Süße 😀 Emoji und Umlaute in einem langen Vorschautext, der gefaltet wird",
        "attachments": (
            TERMIN,
            Attachment("termin-2.ics", "text", "calendar", b"x" * 500, (("method", "PUBLISH"),)),
            Attachment("anhang.bin", "application", "octet-stream", bytes(range(256))),
        ),
    },
]


@pytest.mark.parametrize("case", CASES, ids=["umlaut-sender", "termin", "no-attachments", "odd"])
@pytest.mark.parametrize("key", ["kampagne/digest/krefeld/20261116T0700Z", "a/b/c/d/betriebsraete"])
def test_eml_equals_what_the_email_package_writes(case: dict[str, object], key: str) -> None:
    """Same headers, byte for byte, same structure and the same decoded parts; only the
    quoted-printable lines differ, kept within RFC 2045's 76 characters."""
    arguments: dict[str, object] = {
        **case,
        "key": key,
        "text": LONG_TEXT,
        "html": "<p>" + LONG_TEXT.replace("\n", "</p>\n<p>") + "</p>",
        "date": DATE,
    }
    made = build_eml(**arguments)  # type: ignore[arg-type]
    expected = reference_eml(**arguments)  # type: ignore[arg-type]
    assert made.split(b"\r\n\r\n", 1)[0] == expected.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in made.split(b"\r\n")) <= 78
    assert b"\n" not in made.replace(b"\r\n", b"")  # CRLF only
    ours = list(email.message_from_bytes(made, policy=email.policy.default).walk())
    theirs = list(email.message_from_bytes(expected, policy=email.policy.default).walk())
    assert len(ours) == len(theirs)
    for mine, reference in zip(ours, theirs, strict=True):
        assert list(mine.raw_items()) == list(reference.raw_items())
        assert not mine.defects
        if not mine.is_multipart():
            assert mine.get_payload(decode=True) == reference.get_payload(decode=True)
            encoded = mine.get_payload()
            assert isinstance(encoded, str)
            assert max(len(line) for line in encoded.splitlines()) <= 76


def test_eml_parses_with_umlaut_headers_both_parts_and_the_attachment() -> None:
    raw = build_eml(
        key="k",
        sender_name="Industrieinitiative Thüringen",
        sender_email="newsletter@thueringen.example.org",
        reply_to=None,
        subject="KW 47: Fachkräfte für Jena",
        preheader="Grüße",
        text="Grüße aus Jena\n",
        html="<p>Grüße aus Jena</p>\n",
        date=DATE,
        attachments=(TERMIN,),
    )
    assert b"=?utf-8?" in raw.split(b"\r\n\r\n", 1)[0]  # umlaut headers are encoded words
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "KW 47: Fachkräfte für Jena"
    assert (
        str(message["From"]) == "Industrieinitiative Thüringen <newsletter@thueringen.example.org>"
    )
    assert message.get_content_type() == "multipart/mixed"
    assert not message.defects
    body = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert body is not None and html is not None
    # The wire format ends lines with CRLF (RFC 5322), and so does the decoded text.
    assert body.get_content() == "Grüße aus Jena\r\n"
    assert html.get_content() == "<p>Grüße aus Jena</p>\r\n"
    (attachment,) = message.iter_attachments()
    assert attachment.get_filename() == TERMIN.filename
    assert attachment.get_payload(decode=True) == ICS
