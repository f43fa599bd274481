"""Bounce and complaint reports into the suppression list that every send checks.

Two report formats, both ``multipart/report`` and both read with the ``email`` package:

- RFC 3464 delivery status notifications (``report-type=delivery-status``): per recipient, an
  ``Action: failed`` with a ``5.x.x`` status is a hard bounce and suppresses the address; a
  ``4.x.x`` status (or ``Action: delayed``) is temporary and ignored.
- RFC 5965 abuse reports (ARF, ``report-type=feedback-report``, ``Feedback-Type: abuse``):
  the recipient complained, so we never write to them again.

Each recipient of a report is recorded once (key: report Message-ID + address hash), with the
original Message-ID so ``depesche report`` can count bounces per campaign; the address itself
is kept only as its hash.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import hashlib
import mailbox
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.parser import BytesHeaderParser
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workers.addresses import InvalidAddress, address_hash, normalise_address
from workers.subscriber_models import BounceRecord
from workers.subscribers import suppress

HARD, SOFT, COMPLAINT = "hard", "soft", "complaint"


@dataclass(frozen=True)
class ReportEntry:
    """One recipient named by one report."""

    kind: str  # hard | soft | complaint
    address: str
    status: str | None
    diagnostic: str | None
    original_message_id: str | None
    report_id: str


class NotAReport(ValueError):
    """The message is neither a delivery status notification nor an abuse report."""


def _address_field(value: str | None) -> str | None:
    """``rfc822; erika@example.org`` → ``erika@example.org``."""
    if not value:
        return None
    text = str(value).partition(";")[2] if ";" in str(value) else str(value)
    text = text.strip().strip("<>").strip()
    return text or None


def _original_message_id(message: Message) -> str | None:
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message) and inner["Message-ID"]:
                return str(inner["Message-ID"]).strip()
        elif kind == "text/rfc822-headers":
            raw = part.get_payload(decode=True)
            if isinstance(raw, bytes):
                headers = BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
                if headers["Message-ID"]:
                    return str(headers["Message-ID"]).strip()
    return None


def _original_recipient(message: Message) -> str | None:
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message) and inner["To"]:
                return email.utils.parseaddr(str(inner["To"]))[1] or None
        elif kind == "text/rfc822-headers":
            raw = part.get_payload(decode=True)
            if isinstance(raw, bytes):
                headers = BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
                if headers["To"]:
                    return email.utils.parseaddr(str(headers["To"]))[1] or None
    return None


def _report_id(message: Message, data: bytes) -> str:
    found = message["Message-ID"]
    return str(found).strip() if found else "sha256:" + hashlib.sha256(data).hexdigest()


def parse_report(data: bytes) -> list[ReportEntry]:
    """The recipients a report names, with what happened to each; :class:`NotAReport` if none."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    if message.get_content_type() != "multipart/report":
        raise NotAReport(f"not a multipart/report but {message.get_content_type()}")
    report_type = str(message.get_param("report-type", "")).lower()
    report_id = _report_id(message, data)
    original = _original_message_id(message)
    if report_type == "delivery-status":
        return list(_delivery_status(message, report_id, original))
    if report_type == "feedback-report":
        return list(_feedback(message, report_id, original))
    raise NotAReport(f"unsupported report-type {report_type or '(none)'}")


def _delivery_status(
    message: Message, report_id: str, original: str | None
) -> Iterator[ReportEntry]:
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            continue
        for block in blocks[1:]:  # the first block holds the per-message fields
            if not isinstance(block, Message):
                continue
            action = str(block.get("Action", "")).strip().lower()
            status = str(block.get("Status", "")).strip().split(" ")[0] or None
            address = _address_field(block.get("Final-Recipient")) or _address_field(
                block.get("Original-Recipient")
            )
            if address is None:
                continue
            hard = action == "failed" and (status or "").startswith("5.")
            yield ReportEntry(
                kind=HARD if hard else SOFT,
                address=address,
                status=status,
                diagnostic=" ".join(str(block.get("Diagnostic-Code", "")).split()) or None,
                original_message_id=original,
                report_id=report_id,
            )


def _feedback(message: Message, report_id: str, original: str | None) -> Iterator[ReportEntry]:
    for part in message.walk():
        if part.get_content_type() != "message/feedback-report":
            continue
        payload = part.get_payload()
        fields = payload[0] if isinstance(payload, list) and payload else None
        if not isinstance(fields, Message):
            continue
        if str(fields.get("Feedback-Type", "")).strip().lower() != "abuse":
            continue
        address = _address_field(fields.get("Original-Rcpt-To")) or _original_recipient(message)
        if address is None:
            continue
        yield ReportEntry(
            kind=COMPLAINT,
            address=address,
            status=None,
            diagnostic=None,
            original_message_id=original,
            report_id=report_id,
        )


@dataclass(frozen=True)
class Outcome:
    entry: ReportEntry
    recorded: bool  # False when this report was read before
    suppressed: bool  # the address was newly added to the suppression list


def record_report(session: Session, entries: list[ReportEntry], *, now: datetime) -> list[Outcome]:
    """Record hard bounces and complaints and suppress their addresses; ignore soft bounces."""
    outcomes = []
    for entry in entries:
        if entry.kind == SOFT:
            outcomes.append(Outcome(entry, recorded=False, suppressed=False))
            continue
        try:
            address = normalise_address(entry.address)
        except InvalidAddress:
            address = entry.address.strip().casefold()
        digest = address_hash(address)
        key = hashlib.sha256(f"{entry.report_id}|{digest}".encode()).hexdigest()
        recorded = False
        if session.scalar(select(BounceRecord.id).where(BounceRecord.key == key)) is None:
            try:
                with session.begin_nested():
                    session.add(
                        BounceRecord(
                            key=key,
                            address_hash=digest,
                            kind=entry.kind,
                            status=entry.status,
                            original_message_id=entry.original_message_id,
                            received_at=now,
                        )
                    )
                recorded = True
            except IntegrityError:
                recorded = False
        reason = "bounce" if entry.kind == HARD else "complaint"
        detail = entry.status if entry.kind == HARD else "feedback-type abuse"
        suppressed = suppress(session, digest, reason, now=now, detail=detail)
        outcomes.append(Outcome(entry, recorded=recorded, suppressed=suppressed))
    return outcomes


def read_messages(path: Path) -> Iterator[tuple[str, bytes]]:
    """Messages in ``path``: one ``.eml`` file, a folder of them, an mbox file, or a Maildir.

    Yields (where, raw bytes); ``where`` names the file (and message number in an mbox).
    """
    if path.is_dir():
        if all((path / sub).is_dir() for sub in ("cur", "new", "tmp")):
            maildir = mailbox.Maildir(path, factory=None, create=False)
            for key in sorted(maildir.keys()):
                yield f"{path}/{key}", maildir.get_bytes(key)
            return
        for file in sorted(path.rglob("*.eml")):
            yield str(file), file.read_bytes()
        return
    data = path.read_bytes()
    if data.startswith(b"From "):
        box = mailbox.mbox(path, create=False)
        for number, key in enumerate(box.keys(), start=1):
            yield f"{path}#{number}", box.get_bytes(key)
        return
    yield str(path), data
