"""One piece's ``.eml`` turned into a message per recipient, cheaply.

A digest goes to thousands of subscribers, and only a few bytes differ between their copies: the
``To`` header, the Message-ID, the ``List-Unsubscribe`` headers and the unsubscribe link in the
body. So the ``.eml`` is parsed once per piece (:func:`compile_piece`, cached by content) into
a template: the fixed header block, the body as fixed bytes around a few *slots* (the
quoted-printable lines that hold the unsubscribe placeholder), and what the managed headers need.
:func:`render` then only joins bytes and encodes those few lines, so a recipient costs
microseconds instead of a parse and a MIME generation.

content/email_message.py writes ``%%unsubscribe_url%%`` and ``%%unsubscribe_mailto%%`` where a
per-subscriber value belongs; none of them ever leaves here: without an unsubscribe URL the
``List-Unsubscribe`` headers are dropped and the body placeholders become empty.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import hashlib
import re
from dataclasses import dataclass
from email import quoprimime
from email.headerregistry import Address
from email.message import EmailMessage
from functools import lru_cache

from content.email_message import UNSUBSCRIBE_MAILTO_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER
from workers.channels.base import Outgoing, PermanentError

POLICY = email.policy.SMTP
CRLF = "\r\n"

# Headers this module writes per recipient; the piece's own values are dropped.
MANAGED_HEADERS = (
    "To",
    "Cc",
    "Bcc",
    "Subject",
    "Message-ID",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)
# Extra headers (``options["header:NAME"]``) may not replace what makes the message a message.
RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        *MANAGED_HEADERS,
        "From",
        "Sender",
        "Date",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
        "DKIM-Signature",
        "Return-Path",
    )
)
_FIELD_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 ftext: printable ASCII except colon
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_URI = re.compile(r"[!#-;=?-~]+")  # printable ASCII without space, quotes and angle brackets
_SLOT = re.compile(rb"\x00(\d+)\x00")  # QP output never holds a NUL, so this marker is unique
_QP_LINE_LENGTH = 78  # what the email package's SMTP policy uses, so the parts look the same


@dataclass(frozen=True)
class PieceTemplate:
    """A piece's message with the per-recipient parts left open."""

    sender: str  # the envelope sender (MAIL FROM), the From address
    domain: str  # the right-hand side of Message-IDs
    subject: str  # decoded, for a subject prefix
    subject_header: bytes  # the piece's own Subject line(s), folded and encoded
    head: bytes  # every other header line, CRLF-terminated, without the blank line
    body: tuple[bytes | int, ...]  # fixed bytes and slot numbers, starting with the blank line
    slots: tuple[str, ...]  # per slot: one decoded body line that holds a placeholder


@dataclass(frozen=True)
class Rendered:
    sender: str
    recipient: str  # the envelope recipient (RCPT TO)
    message_id: str
    data: bytes


def message_id(delivery_key: str, domain: str) -> str:
    """A Message-ID that is the same for every attempt of one delivery."""
    digest = hashlib.sha256(delivery_key.encode()).hexdigest()[:40]
    return f"<{digest}@{domain}>"


def render(outgoing: Outgoing) -> Rendered:
    """The complete message for one recipient (still unsigned), or :class:`PermanentError`."""
    eml = outgoing.file(".eml")
    if eml is None:
        raise PermanentError(f"piece {outgoing.piece_key}: no .eml file to send")
    try:
        template = compile_piece(eml.content)
    except ValueError as exc:
        raise PermanentError(f"piece {outgoing.piece_key}: {exc}") from None
    options = outgoing.options
    recipient, to_header = _recipient(outgoing.target, options.get("to_name"))
    mid = message_id(outgoing.delivery_key, template.domain)
    unsubscribe_url = _uri(options, "unsubscribe_url")
    headers = [to_header]
    prefix = options.get("subject_prefix")
    if prefix:
        headers.append(_fold("Subject", prefix + template.subject))
    else:
        headers.append(template.subject_header)
    separator = " " if len(mid) <= 66 else CRLF + " "  # fold a long one: lines stay <= 78
    headers.append(f"Message-ID:{separator}{mid}{CRLF}".encode())
    if unsubscribe_url:
        headers.append(_list_unsubscribe(unsubscribe_url, _mailto(options)))
        headers.append(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
    headers.extend(_extra_headers(options))
    values = {
        UNSUBSCRIBE_PLACEHOLDER: unsubscribe_url or "",
        UNSUBSCRIBE_MAILTO_PLACEHOLDER: _mailto(options) or "",
    }
    body = [
        part if isinstance(part, bytes) else _encode_line(template.slots[part], values)
        for part in template.body
    ]
    data = b"".join((*headers, template.head, *body))
    return Rendered(template.sender, recipient, mid, data)


@lru_cache(maxsize=64)
def compile_piece(eml: bytes) -> PieceTemplate:
    """Parse a piece's .eml once; every recipient of the piece reuses the result.

    Cached by the bytes themselves, so a piece rendered anew (same key, new content) is never
    sent from a stale template.
    """
    parsed = email.message_from_bytes(eml, policy=POLICY)
    assert isinstance(parsed, EmailMessage)
    if parsed.defects:
        raise ValueError(f"the .eml is malformed ({type(parsed.defects[0]).__name__})")
    senders = parsed.get_all("From") or []
    addresses = [address for header in senders for address in getattr(header, "addresses", ())]
    if len(addresses) != 1 or "@" not in addresses[0].addr_spec:
        raise ValueError("the .eml needs exactly one From address")
    sender = addresses[0].addr_spec
    subject = str(parsed.get("Subject", ""))
    subject_header = _fold("Subject", subject) if "Subject" in parsed else b""
    for name in MANAGED_HEADERS:
        del parsed[name]
    slots = _open_slots(parsed)
    generated = parsed.as_bytes(policy=POLICY)
    end_of_head = generated.find(b"\r\n\r\n")
    if end_of_head < 0:
        raise ValueError("the .eml has no body")
    head, rest = generated[: end_of_head + 2], generated[end_of_head + 2 :]
    body: list[bytes | int] = []
    for index, piece in enumerate(_SLOT.split(rest)):
        if index % 2:
            body.append(int(piece))
        elif piece:
            body.append(piece)
    return PieceTemplate(
        sender=sender,
        domain=sender.rpartition("@")[2],
        subject=subject,
        subject_header=subject_header,
        head=head,
        body=tuple(body),
        slots=tuple(slots),
    )


def _open_slots(message: EmailMessage) -> list[str]:
    """Re-encode each text part that holds a placeholder, one marker per line that holds one.

    Quoted-printable encodes every line on its own, so the lines without a placeholder are
    encoded here once, and :func:`render` encodes only the marked lines per recipient.
    """
    slots: list[str] = []
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        if part.is_attachment():
            continue
        assert isinstance(part, EmailMessage)
        content = part.get_content()
        assert isinstance(content, str)
        if UNSUBSCRIBE_PLACEHOLDER not in content and UNSUBSCRIBE_MAILTO_PLACEHOLDER not in content:
            continue
        lines = content.split("\n")
        chunks: list[str] = []
        fixed: list[str] = []
        for number, line in enumerate(lines):
            if number < len(lines) - 1:
                line += "\n"
            elif not line:
                break
            if UNSUBSCRIBE_PLACEHOLDER in line or UNSUBSCRIBE_MAILTO_PLACEHOLDER in line:
                chunks.append(_qp("".join(fixed), "\n"))
                fixed = []
                chunks.append(f"\x00{len(slots)}\x00")
                slots.append(line)
            else:
                fixed.append(line)
        chunks.append(_qp("".join(fixed), "\n"))
        part.set_payload("".join(chunks))
        del part["Content-Transfer-Encoding"]
        part["Content-Transfer-Encoding"] = "quoted-printable"
        part.set_param("charset", "utf-8")
    return slots


def _qp(text: str, eol: str) -> str:
    """Quoted-printable as the email package writes it (UTF-8 bytes, 78-character lines)."""
    if not text:
        return ""
    return quoprimime.body_encode(text.encode("utf-8").decode("latin-1"), _QP_LINE_LENGTH, eol)


def _encode_line(line: str, values: dict[str, str]) -> bytes:
    for placeholder, value in values.items():
        line = line.replace(placeholder, value)
    return _qp(line, CRLF).encode("ascii")


def _recipient(target: str, name: str | None) -> tuple[str, bytes]:
    """The envelope address and the ``To`` line; an address no server would take is permanent."""
    if not name and _PLAIN_ADDRESS.fullmatch(target):
        return target, f"To: {target}{CRLF}".encode()
    if "\r" in target or "\n" in target or (name and ("\r" in name or "\n" in name)):
        raise PermanentError("invalid recipient address: line break in the address")
    try:
        value = str(Address(display_name=name, addr_spec=target)) if name else target
    except (ValueError, IndexError):
        raise PermanentError(f"invalid recipient address: {target!r}") from None
    header = POLICY.header_factory("To", value)
    addresses: tuple[Address, ...] = getattr(header, "addresses", ())
    if header.defects or len(addresses) != 1:
        raise PermanentError(f"invalid recipient address: {target!r}")
    address = addresses[0]
    local, _, domain = address.addr_spec.rpartition("@")
    if not local or "." not in domain:
        raise PermanentError(f"invalid recipient address: {target!r}")
    if not local.isascii():
        # Would need SMTPUTF8 end to end; no subscriber list we import has such an address.
        raise PermanentError(f"invalid recipient address (non-ASCII mailbox): {target!r}")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise PermanentError(f"invalid recipient domain: {target!r}") from None
    mailbox = f"{local}@{domain}"
    display = address.display_name
    return mailbox, _fold("To", email.utils.formataddr((display, mailbox)) if display else mailbox)


def _fold(name: str, value: str) -> bytes:
    """A header line as the SMTP policy writes it: folded, non-ASCII as RFC 2047 words."""
    header = POLICY.header_factory(name, value)
    folded: str = header.fold(policy=POLICY)
    return folded.encode("ascii", "surrogateescape")


def _uri(options: dict[str, str], key: str) -> str | None:
    value = options.get(key)
    if not value:
        return None
    if not _URI.fullmatch(value):
        raise PermanentError(f"options[{key!r}] is not a URI that fits a mail header")
    return value


def _mailto(options: dict[str, str]) -> str | None:
    """``options["unsubscribe_mailto"]``: an address or a mailto: URI (the RFC 2369 fallback)."""
    value = _uri(options, "unsubscribe_mailto")
    if value is None or value.startswith("mailto:"):
        return value
    return f"mailto:{value}?subject=unsubscribe"


def _list_unsubscribe(url: str, mailto: str | None) -> bytes:
    """Written by hand: the policy would RFC 2047-encode a long URL, which no client reads."""
    if mailto is None:
        return f"List-Unsubscribe: <{url}>{CRLF}".encode()
    return f"List-Unsubscribe: <{url}>,{CRLF} <{mailto}>{CRLF}".encode()


def _extra_headers(options: dict[str, str]) -> list[bytes]:
    lines = []
    for key, value in options.items():
        if not key.startswith("header:"):
            continue
        name = key.removeprefix("header:")
        if not _FIELD_NAME.fullmatch(name) or name.lower() in RESERVED_HEADERS:
            raise PermanentError(f"options[{key!r}]: not a header an option may set")
        if "\r" in value or "\n" in value:
            raise PermanentError(f"options[{key!r}]: line break in a header value")
        lines.append(_fold(name, value))
    return lines
