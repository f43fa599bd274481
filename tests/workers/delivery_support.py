"""Small factories for the delivery tests: channels in a workspace, an approved piece, lists."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.db import session_scope
from config.models import Event
from content import review
from content.email_message import UNSUBSCRIBE_PLACEHOLDER, build_eml
from content.models import Piece, PieceFile
from workers.recipients import Recipient

CAMPAIGN, DELIVERABLE, INITIATIVE = "wochenrueckblick", "digest", "krefeld"
SLOT = "wochenrueckblick/digest/20261116T0700Z"


def with_channels(workspace: Path, campaign: str, deliverable: str, channels: list[str]) -> None:
    """Give one deliverable of the workspace copy a ``channels:`` list."""
    path = workspace / "campaigns" / f"{campaign}.yaml"
    text = path.read_text()
    anchor = f"  - id: {deliverable}\n"
    assert anchor in text, f"{deliverable} not in {path}"
    head, _, tail = text.partition(anchor)
    kind_line, _, rest = tail.partition("\n")
    path.write_text(f"{head}{anchor}{kind_line}\n    channels: [{', '.join(channels)}]\n{rest}")


def digest_eml(key: str, paragraphs: int = 3) -> bytes:
    body = "\n\n".join(
        f"Meldung {n}: Die Industrieinitiative Krefeld berichtet über Wasserstoff und "
        "Fachkräftesicherung in der Region." * 3
        for n in range(paragraphs)
    )
    html = "".join(f"<p>{line}</p>" for line in body.split("\n\n"))
    return build_eml(
        key=key,
        sender_name="Industrieinitiative Krefeld",
        sender_email="newsletter@krefeld.example.org",
        reply_to=None,
        subject="KW 47: Wasserstoff-Hub Krefeld startet",
        preheader="Neues aus der Region und dem Netzwerk",
        text=f"{body}\n\nAbbestellen: {UNSUBSCRIBE_PLACEHOLDER}\n",
        html=f"<html><body>{html}<p><a href='{UNSUBSCRIBE_PLACEHOLDER}'>Abbestellen</a></p>"
        "</body></html>",
        date=datetime(2026, 11, 16, 7, 0).astimezone(),
    )


def add_piece(
    session: Session,
    *,
    now: datetime,
    key: str = f"{SLOT}/{INITIATIVE}/newsletter",
    kind: str = "newsletter",
    campaign: str = CAMPAIGN,
    deliverable: str = DELIVERABLE,
    slot: str = SLOT,
    files: dict[str, bytes] | None = None,
    audience: str | None = None,
    state: str = "approved",
    facts: dict[str, object] | None = None,
) -> Piece:
    files = files if files is not None else {"digest.eml": digest_eml(key)}
    piece = Piece(
        key=key,
        slot_key=slot,
        initiative=INITIATIVE,
        campaign=campaign,
        deliverable=deliverable,
        kind=kind,
        platform=None,
        state=state,
        provenance={"items": [], "audience": audience, "facts": facts or {}},
        created_at=now,
        files=[
            PieceFile(
                name=name,
                media_type="message/rfc822" if name.endswith(".eml") else "application/pdf",
                content=content,
                sha256=hashlib.sha256(content).hexdigest(),
            )
            for name, content in files.items()
        ],
    )
    session.add(piece)
    session.flush()
    return piece


def approve(database_url: str, key: str, now: datetime) -> int:
    """Approve through the review work (``piece.approved`` in the same commit); the event id."""
    with session_scope(database_url) as session:
        piece = session.scalar(select(Piece).where(Piece.key == key))
        assert piece is not None
        review.approve(session, piece, actor="presse@buendnis.example.org", now=now)
        event_id = session.scalar(
            select(Event.id).where(Event.type == "piece.approved").order_by(Event.id.desc())
        )
        assert event_id is not None
        return event_id


@dataclass
class Lists:
    """A tiny recipient source: subscribers per (initiative, audience), a press list."""

    subscribers: list[Recipient] = field(default_factory=list)
    press: list[Recipient] = field(default_factory=list)
    suppressed: set[str] = field(default_factory=set)
    asked: list[str] = field(default_factory=list)

    def email_recipients(
        self, session: Session, initiative: str, audience: str | None
    ) -> list[Recipient]:
        return [r for r in self.subscribers if audience is None or r.audience == audience]

    def press_recipients(self, session: Session, initiative: str) -> list[Recipient]:
        return list(self.press)

    def is_suppressed(self, session: Session, address: str) -> bool:
        self.asked.append(address)
        return address in self.suppressed


def subscribers(count: int) -> list[Recipient]:
    return [
        Recipient(
            address=f"leser{n}@example.org",
            name=f"Leserin {n}",
            ref=f"subscriber:{n}",
            unsubscribe_url=f"https://depesche.example.org/u/token{n}",
        )
        for n in range(count)
    ]


def events_of(database_url: str, type_: str) -> list[Event]:
    with session_scope(database_url) as session:
        return list(session.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))
