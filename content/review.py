"""The review gate: a piece's states, who may move them, and whether it may go out now.

A piece moves ``draft → approved → scheduled → delivered``; ``rejected``, ``failed`` (dead
letter) and ``stale`` (its campaign changed after composition) stand beside them. Only
:func:`transition` changes a state: it refuses a move the table below does not allow, numbers
every move per piece (a unique ``(piece, seq)`` lets one of two concurrent moves win) and
records its event (``piece.<state>``) in the caller's transaction.

A review policy asks for approval levels, in order (``network``: the alliance's PR team, then
``initiative``: the initiative for its own edition); the piece becomes ``approved`` with the last
level's approval. ``auto`` approves at composition, with the actor ``auto``.

The contract for delivery (``workers/delivery.py``): create deliveries on ``piece.approved``;
before every send ask :func:`hold_reason` (None: send now; otherwise why not) and move the piece
with :func:`transition` to ``scheduled``, ``delivered`` or ``failed``. Signatures stay stable.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from campaigns.controls import CANCELLED, PAUSED, control_state
from campaigns.schema import Campaign, ReviewLevel
from campaigns.triggers import resolve_instant
from campaigns.workspace import Workspace
from config.models import record_event
from content.models import Piece, PieceApproval, PieceComment, PieceTransition

DRAFT, APPROVED, SCHEDULED, DELIVERED = "draft", "approved", "scheduled", "delivered"
REJECTED, FAILED, STALE = "rejected", "failed", "stale"
STATES = (DRAFT, APPROVED, SCHEDULED, DELIVERED, REJECTED, FAILED, STALE)
# The allowed moves. Delivered, rejected and stale are final: a changed piece is composed anew.
TRANSITIONS: dict[str, frozenset[str]] = {
    DRAFT: frozenset({APPROVED, REJECTED, STALE}),
    APPROVED: frozenset({SCHEDULED, REJECTED, FAILED, STALE}),
    SCHEDULED: frozenset({DELIVERED, FAILED, STALE}),
    FAILED: frozenset({SCHEDULED, STALE}),
    DELIVERED: frozenset(),
    REJECTED: frozenset(),
    STALE: frozenset(),
}
# States whose pieces may still leave, so a change of their campaign makes them stale.
UNSENT = (DRAFT, APPROVED, SCHEDULED, FAILED)
AUTO_ACTOR = "auto"
SHOWN_ZONE = "Europe/Berlin"


class ReviewError(Exception):
    """A review action that cannot be done; the message names the piece and says why."""


class IllegalTransition(ReviewError):
    """A move the state table does not allow, e.g. ``rejected → approved``."""


class ConcurrentTransition(IllegalTransition):
    """Someone else moved the piece since it was loaded; a retry loads it fresh."""


# --- what composition stores ----------------------------------------------------------------


@dataclass(frozen=True)
class ReviewSetup:
    """What a deliverable's policy and times fix for its pieces at composition."""

    levels: tuple[ReviewLevel, ...]
    campaign_hash: str
    send_at: datetime
    embargo_until: datetime | None

    def provenance(self) -> dict[str, object]:
        return {"review": list(self.levels), "campaign_hash": self.campaign_hash}


def campaign_hash(campaign: Campaign, deliverable_id: str) -> str:
    """sha256 over what shapes one deliverable: the campaign's own settings and that deliverable.

    Computed from the validated model, not the file's bytes, so a comment or a reformatted line
    stales nothing, while an edit of another deliverable in the same file does not either.
    """
    deliverable = next(d for d in campaign.deliverables if d.id == deliverable_id)
    shape = {
        "campaign": campaign.model_dump(mode="json", exclude={"deliverables"}),
        "deliverable": deliverable.model_dump(mode="json"),
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


def review_setup(
    workspace: Workspace, campaign_name: str, deliverable_id: str, due_at: datetime
) -> ReviewSetup:
    campaign = workspace.campaigns[campaign_name]
    deliverable = next(d for d in campaign.deliverables if d.id == deliverable_id)
    embargo = getattr(deliverable, "embargo", None)
    send_at = due_at
    if deliverable.send_at is not None:
        send_at = max(due_at, resolve_instant(deliverable.send_at, campaign))
    return ReviewSetup(
        levels=campaign.review_levels(deliverable_id),
        campaign_hash=campaign_hash(campaign, deliverable_id),
        send_at=send_at,
        embargo_until=resolve_instant(embargo, campaign) if embargo is not None else None,
    )


def start_review(session: Session, piece: Piece, *, now: datetime) -> None:
    """Right after composition: a piece whose policy asks for no level is approved by ``auto``."""
    if not required_levels(piece) and piece.state == DRAFT:
        transition(session, piece, APPROVED, actor=AUTO_ACTOR, now=now, note="review: auto")


# --- moving states --------------------------------------------------------------------------


def describe(piece: Piece) -> str:
    return f"piece {piece.id} ({piece.key})"


def transition(
    session: Session,
    piece: Piece,
    to_state: str,
    *,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> PieceTransition | None:
    """Move ``piece`` to ``to_state``, recording the move and its event ``piece.<to_state>``.

    A piece already in ``to_state`` is left alone (returns None): a retried task is harmless.
    Of two processes moving the same piece from the same state, one wins; the other gets
    :class:`ConcurrentTransition` (its transaction should roll back; a retry sees the new state).
    Raises :class:`IllegalTransition` naming the piece and both states for any other move the
    table does not allow, and for ``approved`` while a review level has not yet approved (use
    :func:`approve` for that).
    """
    if to_state not in STATES:
        raise ReviewError(f"unknown state {to_state!r}: use one of {', '.join(STATES)}")
    current = piece.state
    if current == to_state:
        return None
    if to_state not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none, it is final"
        raise IllegalTransition(
            f"{describe(piece)}: cannot go from {current} to {to_state} (from {current}: {allowed})"
        )
    if to_state == APPROVED:
        pending = pending_levels(session, piece)
        if pending:
            raise IllegalTransition(
                f"{describe(piece)}: cannot go from {current} to {to_state}: "
                f"level {pending[0]} has not approved yet"
            )
    session.flush()  # the piece needs its id
    seq = 1 + (
        session.scalar(
            select(func.count())
            .select_from(PieceTransition)
            .where(PieceTransition.piece_id == piece.id)
        )
        or 0
    )
    # Compare-and-set: of two processes that loaded the piece in the same state, one moves it.
    moved = session.execute(
        update(Piece)
        .where(Piece.id == piece.id, Piece.state == current)
        .values(state=to_state)
        .execution_options(synchronize_session=False)
    )
    if getattr(moved, "rowcount", 0) != 1:
        raise ConcurrentTransition(
            f"{describe(piece)}: cannot go from {current} to {to_state}: it was moved by "
            "someone else meanwhile"
        )
    move = PieceTransition(
        piece_id=piece.id,
        seq=seq,
        from_state=current,
        to_state=to_state,
        actor=actor,
        note=note,
        at=now,
    )
    session.add(move)
    set_committed_value(piece, "state", to_state)
    record_event(
        session,
        f"piece.{to_state}",
        f"piece.{to_state}:{piece.id}:{seq}",
        {
            "piece": piece.key,
            "piece_id": piece.id,
            "initiative": piece.initiative,
            "campaign": piece.campaign,
            "deliverable": piece.deliverable,
            "kind": piece.kind,
            "from": current,
            "to": to_state,
            "actor": actor,
            "note": note,
        },
        now,
    )
    session.flush()
    return move


def required_levels(piece: Piece) -> tuple[str, ...]:
    """The levels the piece's policy asked for at composition (none: ``auto``)."""
    return tuple(piece.provenance.get("review", ()))


def approvals(session: Session, piece: Piece) -> list[PieceApproval]:
    return list(
        session.scalars(
            select(PieceApproval)
            .where(PieceApproval.piece_id == piece.id)
            .order_by(PieceApproval.id)
        )
    )


def pending_levels(session: Session, piece: Piece) -> tuple[str, ...]:
    """Levels still to approve, in the order they approve."""
    done = {a.level for a in approvals(session, piece)} if piece.id is not None else set()
    return tuple(level for level in required_levels(piece) if level not in done)


def approve(
    session: Session,
    piece: Piece,
    *,
    actor: str,
    now: datetime,
    level: str | None = None,
    note: str | None = None,
) -> str:
    """Record ``level``'s approval (default: the next level due); the last one approves the piece.

    Levels approve in order: the PR team (``network``) before the initiative. Approving a level
    twice is harmless; returns the piece's state afterwards.
    """
    required = required_levels(piece)
    if level is not None and required and level not in required:
        raise ReviewError(
            f"{describe(piece)}: its review has no level {level!r} (levels: {', '.join(required)})"
        )
    done = {a.level for a in approvals(session, piece)}
    if level is not None and level in done:
        return piece.state
    if piece.state != DRAFT:
        if piece.state in (APPROVED, SCHEDULED, DELIVERED):
            return piece.state
        raise IllegalTransition(
            f"{describe(piece)}: cannot go from {piece.state} to {APPROVED} (only a draft is "
            "approved)"
        )
    pending = [lvl for lvl in required if lvl not in done]
    if pending:
        chosen = level or pending[0]
        if chosen != pending[0]:
            raise ReviewError(
                f"{describe(piece)}: level {chosen} approves after {pending[0]}, which has not "
                "approved yet"
            )
        session.add(PieceApproval(piece_id=piece.id, level=chosen, actor=actor, note=note, at=now))
        record_event(
            session,
            "piece.level_approved",
            f"piece.level_approved:{piece.id}:{chosen}",
            {
                "piece": piece.key,
                "piece_id": piece.id,
                "initiative": piece.initiative,
                "level": chosen,
                "actor": actor,
                "note": note,
                "remaining": pending[1:],
            },
            now,
        )
        session.flush()
        if pending[1:]:
            return piece.state
    transition(session, piece, APPROVED, actor=actor, now=now, note=note)
    return piece.state


def reject(
    session: Session, piece: Piece, *, actor: str, now: datetime, reason: str
) -> PieceTransition | None:
    """Turn a piece down for good (it is never sent); the reason is kept with the move."""
    if not reason.strip():
        raise ReviewError(f"{describe(piece)}: a rejection needs a reason")
    return transition(session, piece, REJECTED, actor=actor, now=now, note=reason)


def comment(
    session: Session,
    piece: Piece,
    *,
    actor: str,
    text: str,
    now: datetime,
    key: str | None = None,
) -> PieceComment:
    """Add a remark to a piece. ``key`` (default: derived from piece, author, text and time)
    makes a repeat add nothing."""
    if not text.strip():
        raise ReviewError(f"{describe(piece)}: a comment needs text")
    session.flush()
    if key is None:
        basis = f"{piece.id}\n{actor}\n{text}\n{now.isoformat()}"
        key = hashlib.sha256(basis.encode()).hexdigest()
    existing = session.scalar(select(PieceComment).where(PieceComment.key == key))
    if existing is not None:
        return existing
    remark = PieceComment(key=key, piece_id=piece.id, actor=actor, text=text, at=now)
    session.add(remark)
    record_event(
        session,
        "piece.commented",
        f"piece.commented:{key}",
        {"piece": piece.key, "piece_id": piece.id, "actor": actor, "text": text},
        now,
    )
    session.flush()
    return remark


# --- may it go out? -------------------------------------------------------------------------


def shown(value: datetime, zone: str = SHOWN_ZONE) -> str:
    """An instant as the PR team reads it: ``09.11.2026 10:00 Europe/Berlin``."""
    return f"{value.astimezone(ZoneInfo(zone)):%d.%m.%Y %H:%M} {zone}"


def hold_reason(session: Session, piece: Piece, workspace: Workspace, now: datetime) -> str | None:
    """None when ``piece`` may be delivered at ``now``; otherwise why not, in one line.

    Checked before every send, in every channel, for every initiative: the campaign's control
    (cancelled, paused), the piece's state and pending review levels, a change of its campaign
    since composition, its Sperrfrist and its send-at time.
    """
    control = control_state(session, piece.campaign)
    if control.state == CANCELLED:
        return f"campaign {piece.campaign} cancelled by {control.actor}: never sent"
    if piece.state == STALE:
        return "stale: its campaign changed after composition; compose it anew"
    if piece.state in (REJECTED, DELIVERED, FAILED):
        return {
            REJECTED: "rejected: never sent",
            DELIVERED: "already delivered",
            FAILED: "failed: waits for an operator",
        }[piece.state]
    if piece.state == DRAFT:
        pending = pending_levels(session, piece)
        waiting = f": waits for level {pending[0]}" if pending else ""
        return f"not approved{waiting}"
    campaign = workspace.campaigns.get(piece.campaign)
    if campaign is None:
        return f"campaign {piece.campaign} is no longer in the workspace"
    stored = piece.provenance.get("campaign_hash")
    if stored is not None and (
        not any(d.id == piece.deliverable for d in campaign.deliverables)
        or campaign_hash(campaign, piece.deliverable) != stored
    ):
        return f"stale: campaigns/{piece.campaign}.yaml changed after approval"
    if control.state == PAUSED:
        return f"campaign {piece.campaign} paused by {control.actor}"
    zone = campaign.timezone
    if piece.embargo_until is not None and now < piece.embargo_until:
        return f"embargo until {shown(piece.embargo_until, zone)}"
    if piece.send_at is not None and now < piece.send_at:
        return f"send-at {shown(piece.send_at, zone)}"
    return None


def mark_stale(session: Session, workspace: Workspace, now: datetime) -> int:
    """Move every unsent piece whose campaign changed since composition to ``stale``.

    Compares each piece's stored campaign hash with the workspace's; a change to another
    campaign (or another deliverable) leaves it alone. Returns how many pieces went stale.
    """
    pieces = session.scalars(select(Piece).where(Piece.state.in_(UNSENT)).order_by(Piece.id))
    count = 0
    for piece in pieces:
        stored = piece.provenance.get("campaign_hash")
        if stored is None:
            continue  # composed before hashes were kept: nothing to compare
        campaign = workspace.campaigns.get(piece.campaign)
        if campaign is None:
            note = f"campaigns/{piece.campaign}.yaml removed"
        elif not any(d.id == piece.deliverable for d in campaign.deliverables):
            note = f"deliverable {piece.deliverable} removed from campaigns/{piece.campaign}.yaml"
        elif campaign_hash(campaign, piece.deliverable) != stored:
            note = f"campaigns/{piece.campaign}.yaml changed"
        else:
            continue
        transition(session, piece, STALE, actor="depesche", now=now, note=note)
        count += 1
    return count


# --- finding and showing --------------------------------------------------------------------


def find_piece(session: Session, reference: str) -> Piece:
    """A piece by its id (digits) or its key; a clear error when there is none."""
    piece = None
    if reference.isdigit():
        piece = session.get(Piece, int(reference))
    if piece is None:
        piece = session.scalar(select(Piece).where(Piece.key == reference))
    if piece is None:
        raise ReviewError(f"no piece with id or key {reference!r} (see `depesche review list`)")
    return piece


def history(session: Session, piece: Piece) -> list[PieceTransition]:
    return list(
        session.scalars(
            select(PieceTransition)
            .where(PieceTransition.piece_id == piece.id)
            .order_by(PieceTransition.seq)
        )
    )


def comments(session: Session, piece: Piece) -> list[PieceComment]:
    return list(
        session.scalars(
            select(PieceComment).where(PieceComment.piece_id == piece.id).order_by(PieceComment.id)
        )
    )
