"""Small factories for review tests: pieces stored as composition stores them, without rendering.

A piece gets the review setup of its deliverable in the workspace given (levels, campaign hash,
send-at and embargo), so the review code sees exactly what assembly would have stored.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from campaigns.workspace import Workspace
from content.models import Piece, PieceFile
from content.review import review_setup, start_review

# The example's press release: due and embargoed at the pressetermin, 9 November 2026, 10:00.
PRESSETERMIN = datetime(2026, 11, 9, 9, 0, tzinfo=UTC)
BEFORE = datetime(2026, 11, 9, 8, 0, tzinfo=UTC)
AFTER = datetime(2026, 11, 9, 10, 0, tzinfo=UTC)


def make_piece(
    session: Session,
    workspace: Workspace,
    *,
    campaign: str = "woche-der-industrie",
    deliverable: str = "pressemitteilung",
    initiative: str = "krefeld",
    kind: str = "press_release",
    due_at: datetime = PRESSETERMIN,
    now: datetime = BEFORE,
) -> Piece:
    setup = review_setup(workspace, campaign, deliverable, due_at)
    slot_key = f"{campaign}/{deliverable}-{due_at:%Y%m%dT%H%MZ}"
    text = f"{initiative} eröffnet die Woche der Industrie\n\nKrefeld, 9. November 2026 – …"
    files = [
        (f"{kind}.md", "text/markdown", text.encode()),
        (f"{kind}.html", "text/html", f"<h1>{initiative}</h1>".encode()),
    ]
    piece = Piece(
        key=f"{slot_key}/{initiative}/{kind}",
        slot_key=slot_key,
        initiative=initiative,
        campaign=campaign,
        deliverable=deliverable,
        kind=kind,
        platform=None,
        state="draft",
        provenance={"items": [], "template": f"{kind}.html", **setup.provenance()},
        created_at=now,
        send_at=setup.send_at,
        embargo_until=setup.embargo_until,
        files=[
            PieceFile(
                name=name,
                media_type=media_type,
                content=content,
                sha256=hashlib.sha256(content).hexdigest(),
            )
            for name, media_type, content in files
        ],
    )
    session.add(piece)
    session.flush()
    start_review(session, piece, now=now)
    return piece


def set_review(root: Path, campaign: str, old: str, new: str) -> None:
    """Edit one campaign file of a test's workspace copy."""
    path = root / "campaigns" / f"{campaign}.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
