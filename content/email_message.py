"""A complete RFC 5322 message for a newsletter: what a mail client or an ESP imports as it is.

The message is deterministic for a piece (Message-ID and MIME boundaries derive from its key), so
a re-run produces the same bytes and the same checksum in the manifest. Headers with umlauts are
RFC 2047 encoded by the ``email`` package's SMTP policy; bodies are UTF-8, quoted-printable.

Why the message is written part by part instead of through ``EmailMessage``: building one with
``set_content``/``add_alternative``/``add_attachment`` parses and re-folds every MIME header
several times and cost more than rendering the newsletter itself (about 20 ms a piece). Here the
``email`` package still does every piece of encoding (header folding and RFC 2047 words through
the policy, the same base64 line length) and ``binascii`` encodes quoted-printable, while the
multipart frame, which never varies, is written once. Headers that repeat across pieces (part
headers, attachment headers, the shared ``Date``) are folded once per process. Every header,
the structure and every decoded part equal what ``EmailMessage`` writes for the same input:
``tests/content/test_email_message.py`` builds both and compares them.
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from functools import lru_cache

# Replaced per subscriber by the sending channel (RFC 2369 / RFC 8058 one-click).
UNSUBSCRIBE_PLACEHOLDER = "%%unsubscribe_url%%"
UNSUBSCRIBE_MAILTO_PLACEHOLDER = "%%unsubscribe_mailto%%"

_NL = b"\r\n"
_MAX_LINE = SMTP.max_line_length or 78  # 78: RFC 5322's recommended limit
_QP_LINE = 76  # RFC 2045, 6.7 (5)
# Boundaries end in 24 hex digits from the key; any 24 hex digits fold alike, so a boundary
# header is folded once with this stand-in and the digits are put in afterwards.
_DIGITS_STAND_IN = "0" * 24


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


def _fold(name: str, value: str | Address) -> bytes:
    """One header as the SMTP policy stores and writes it (RFC 2047 words, folded at 78)."""
    return SMTP.fold_binary(*SMTP.header_store_parse(name, value))


@lru_cache(maxsize=1024)
def _fold_address(name: str, display: str, email: str) -> bytes:
    """Senders repeat for every slot and audience of an initiative: fold each once."""
    return _fold(name, _address(display, email))


@lru_cache(maxsize=256)
def _fold_shared(name: str, value: str) -> bytes:
    """Headers every piece (or every piece of a slot) carries alike."""
    return _fold(name, value)


@lru_cache(maxsize=2048)
def _fold_text(name: str, value: str) -> bytes:
    """Subjects and preheaders: many initiatives of a slot share the campaign's wording."""
    return _fold(name, value)


@lru_cache(maxsize=16)
def _multipart_header(subtype: str, prefix: str) -> tuple[bytes, bytes]:
    """``Content-Type: multipart/...; boundary=...`` folded around the stand-in digits."""
    folded = _fold("Content-Type", f'multipart/{subtype}; boundary="{prefix}{_DIGITS_STAND_IN}"')
    before, _, after = folded.partition(_DIGITS_STAND_IN.encode())
    return before, after


def forget_headers() -> None:
    """Drop the folded senders and slot headers (see :mod:`content.caches`)."""
    _fold_address.cache_clear()
    _fold_shared.cache_clear()
    _fold_text.cache_clear()
    _attachment_headers.cache_clear()


def _boundary_header(subtype: str, prefix: str, digits: str) -> bytes:
    before, after = _multipart_header(subtype, prefix)
    return before + digits.encode() + after


@lru_cache(maxsize=4)
def _text_part_headers(subtype: str, first: bool) -> bytes:
    """A text part's headers as ``set_content``/``add_alternative`` leave them.

    The first alternative is the message's own content moved into a part, so its
    ``MIME-Version`` stays on the message; a later alternative carries its own.
    """
    part = EmailMessage(policy=SMTP)
    part.set_content("", subtype=subtype, charset="utf-8", cte="quoted-printable")
    return b"".join(
        SMTP.fold_binary(name, value)
        for name, value in part.raw_items()
        if not (first and name == "MIME-Version")
    )


@lru_cache(maxsize=256)
def _attachment_headers(
    filename: str, maintype: str, subtype: str, params: tuple[tuple[str, str], ...]
) -> bytes:
    """An attachment's headers exactly as ``add_attachment`` writes them (content aside)."""
    part = EmailMessage(policy=SMTP)
    part.set_content(
        b"", maintype=maintype, subtype=subtype, filename=filename, params=dict(params)
    )
    return b"".join(SMTP.fold_binary(name, value) for name, value in part.raw_items())


def _quoted_printable(text: str) -> bytes:
    """UTF-8, quoted-printable in lines of at most 76 characters (RFC 2045, 6.7).

    ``binascii`` encodes in C, four times faster than ``email.quoprimime``, whose lines (78
    with the SMTP policy) overstep RFC 2045's limit; the decoded text is the same.
    """
    body = b"\n".join(text.encode("utf-8").splitlines()) + b"\n"
    lines = binascii.b2a_qp(body, quotetabs=False, istext=True, header=False).split(b"\n")
    # binascii quotes a space or tab that ends a line without minding the limit (up to 78):
    # such a line gets a soft break before its quoted last character.
    for number, line in enumerate(lines):
        if len(line) > _QP_LINE:
            if line[-3:] not in (b"=20", b"=09") or len(line) - 3 >= _QP_LINE:
                raise ValueError(f"quoted-printable line of {len(line)} characters")
            lines[number] = line[:-3] + b"=" + _NL + line[-3:]
    return _NL.join(lines)


def _base64(data: bytes) -> bytes:
    per_line = _MAX_LINE // 4 * 3
    return b"".join(
        binascii.b2a_base64(data[start : start + per_line]).replace(b"\n", _NL)
        for start in range(0, len(data), per_line)
    )


def _multipart(headers: bytes, boundary: str, parts: Sequence[bytes]) -> bytes:
    """Headers, a blank line, then the parts between ``--boundary`` lines."""
    marker = b"--" + boundary.encode()
    out = [headers, _NL, marker, _NL]
    for number, part in enumerate(parts):
        if number:
            out += [_NL, marker, _NL]
        out.append(part)
    out += [_NL, marker, b"--", _NL]
    return b"".join(out)


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
    digits = digest[32:56]
    sender = _fold_address("From", sender_name, sender_email)
    # To is the sender again; a From that fits on one line fits, and folds alike, after the
    # shorter "To:", so only a folded From makes the policy fold To on its own.
    if _NL + b" " in sender or _NL + b"\t" in sender:
        recipient = _fold_address("To", sender_name, sender_email)
    else:
        recipient = b"To" + sender[len(b"From") :]
    headers = [sender, recipient]
    if reply_to:
        headers.append(_fold_address("Reply-To", sender_name, reply_to))
    headers += [
        _fold_text("Subject", subject),
        _fold_shared("Date", format_datetime(date)),
        _fold("Message-ID", f"<{digest[:32]}@{domain}>"),
        _fold_shared(
            "List-Unsubscribe", f"<{UNSUBSCRIBE_MAILTO_PLACEHOLDER}>, <{UNSUBSCRIBE_PLACEHOLDER}>"
        ),
        _fold_shared("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        _fold_text("X-Preheader", preheader),
        _fold_shared("MIME-Version", "1.0"),
    ]
    alternatives = [
        _text_part_headers("plain", True) + _NL + _quoted_printable(text),
        _text_part_headers("html", False) + _NL + _quoted_printable(html),
    ]
    alternative_boundary = f"=_depesche_alt_{digits}"
    alternative_type = _boundary_header("alternative", "=_depesche_alt_", digits)
    if not attachments:
        top = b"".join(headers) + alternative_type
        return _multipart(top, alternative_boundary, alternatives)
    parts = [_multipart(alternative_type, alternative_boundary, alternatives)]
    for attachment in attachments:
        part_headers = _attachment_headers(
            attachment.filename, attachment.maintype, attachment.subtype, attachment.params
        )
        parts.append(part_headers + _NL + _base64(attachment.content))
    top = b"".join(headers) + _boundary_header("mixed", "=_depesche_mix_", digits)
    return _multipart(top, f"=_depesche_mix_{digits}", parts)
