"""CSV imports into the lists: subscribers (``depesche subscribers import``) and press contacts
(``depesche press import``).

A bad row never costs the good ones: every row is checked first, each problem is reported as
``file:line: field: message``, and the valid rows are written. Rows already imported are found
by their unique ``(initiative, address)`` and updated, so importing the same file twice (or
again after fixing the bad rows) adds nothing twice. Spreadsheets saved by German Excel use
semicolons and a BOM; both are accepted.
"""

from __future__ import annotations

import csv
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from workers.addresses import InvalidAddress, normalise_address
from workers.subscriber_models import CONFIRMED, PressContact
from workers.subscribers import (
    confirm_documented,
    confirmation_due,
    find_subscriber,
    is_suppressed,
    sign_up,
)


class ImportFileInvalid(ValueError):
    """The file as a whole cannot be read (missing header column, not a CSV, not UTF-8)."""


@dataclass
class ImportResult:
    added: int = 0
    updated: int = 0
    confirmed: int = 0
    problems: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # Subscribers that need a confirmation mail once the import is committed.
    to_confirm: list[int] = field(default_factory=list)


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileInvalid(f"{path}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise ImportFileInvalid(f"{path}: {exc.strerror}") from None
    first = text.partition("\n")[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(text.splitlines(keepends=True), delimiter=delimiter)
    header = [(name or "").strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in required if name not in header]
    if missing:
        raise ImportFileInvalid(
            f"{path}:1: header: missing column(s) {', '.join(missing)} "
            f"(found: {', '.join(header) or 'nothing'})"
        )
    reader.fieldnames = header
    for row in reader:
        values = {k: (v or "").strip() for k, v in row.items() if isinstance(k, str)}
        if not any(values.values()):
            continue
        yield reader.line_num, values


def _address(path: Path, line: int, raw: str, problems: list[str]) -> str | None:
    if not raw:
        problems.append(f"{path}:{line}: email: missing")
        return None
    try:
        return normalise_address(raw)
    except InvalidAddress as exc:
        problems.append(f"{path}:{line}: email: {exc}")
        return None


def import_subscribers(
    session: Session,
    path: Path,
    *,
    initiative: str,
    audiences: Collection[str],
    default_audience: str | None,
    consent_note: str | None,
    now: datetime,
) -> ImportResult:
    """Import ``email, name, audience`` rows.

    Without ``consent_note`` every new address stays unconfirmed and is listed in
    ``to_confirm`` for a confirmation mail; with it, the operator states documented prior
    consent (recorded with the note) and the addresses are confirmed.
    """
    result = ImportResult()
    seen: dict[str, int] = {}
    valid: list[tuple[int, str, str | None, str | None]] = []
    for line, row in _rows(path, ("email",)):
        address = _address(path, line, row.get("email", ""), result.problems)
        audience = row.get("audience") or default_audience
        if audience is not None and audiences and audience not in audiences:
            result.problems.append(
                f"{path}:{line}: audience: unknown audience {audience!r} "
                f"(known: {', '.join(sorted(audiences))})"
            )
            continue
        if address is None:
            continue
        if address in seen:
            result.problems.append(
                f"{path}:{line}: email: {address} already appears on line {seen[address]}"
            )
            continue
        seen[address] = line
        valid.append((line, address, row.get("name") or None, audience))
    for line, address, name, audience in valid:
        if is_suppressed(session, address):
            result.skipped.append(
                f"{path}:{line}: email: on the suppression list (bounced, complained or erased)"
            )
            continue
        existed = find_subscriber(session, initiative, address) is not None
        subscriber = sign_up(
            session,
            initiative=initiative,
            address=address,
            name=name,
            audience=audience,
            source="import",
            ip=None,
            consent_version=None,
            now=now,
            note=f"import {path.name}",
        )
        if existed:
            result.updated += 1
        else:
            result.added += 1
        if consent_note:
            if subscriber.status != CONFIRMED:
                confirm_documented(session, subscriber, note=consent_note, now=now)
                result.confirmed += 1
        elif confirmation_due(subscriber, now):
            result.to_confirm.append(subscriber.id)
    return result


def import_press(session: Session, path: Path, *, initiative: str, now: datetime) -> ImportResult:
    """Import ``name, outlet, beat, email`` rows into the initiative's Presseverteiler."""
    result = ImportResult()
    seen: dict[str, int] = {}
    valid: list[tuple[str, dict[str, str]]] = []
    for line, row in _rows(path, ("name", "outlet", "email")):
        address = _address(path, line, row.get("email", ""), result.problems)
        missing = [column for column in ("name", "outlet") if not row.get(column)]
        for column in missing:
            result.problems.append(f"{path}:{line}: {column}: missing")
        if address is None or missing:
            continue
        if address in seen:
            result.problems.append(
                f"{path}:{line}: email: {address} already appears on line {seen[address]}"
            )
            continue
        seen[address] = line
        valid.append((address, row))
    for address, row in valid:
        contact = session.scalar(
            select(PressContact).where(
                PressContact.initiative == initiative, PressContact.address == address
            )
        )
        if contact is None:
            contact = PressContact(initiative=initiative, address=address, created_at=now)
            session.add(contact)
            result.added += 1
        else:
            result.updated += 1
        contact.name, contact.outlet = row["name"], row["outlet"]
        contact.beat = row.get("beat") or None
    session.flush()
    return result
