"""Assembling one initiative's pieces for one slot, stored once under their keys.

Loads the items the slot may use, composes, and stores every piece with its files and
provenance in the caller's transaction. Pieces of a slot and initiative are stored together or
not at all, so a second call finds them and composes nothing: re-runs are free and harmless.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.planner import SlotSpec
from campaigns.schema import NewsletterDeliverable
from campaigns.workspace import Workspace
from config.models import record_event
from content.composers import compose
from content.composers.base import ComposedPiece, CompositionInput
from content.models import Item, Piece, PieceFile
from content.review import review_setup, start_review
from content.selection import Candidate

INITIAL_STATE = "draft"


def piece_key(slot_key: str, initiative: str, piece: ComposedPiece) -> str:
    suffix = f"{piece.kind}/{piece.platform}" if piece.platform else piece.kind
    if piece.audience:
        suffix = f"{suffix}/{piece.audience}"
    return f"{slot_key}/{initiative}/{suffix}"


def candidate_of(item: Item) -> Candidate:
    return Candidate(
        item_id=item.id,
        title=item.title,
        summary=item.summary_text,
        url=item.canonical_url,
        published=item.published_at,
        feeds=tuple(source.feed_id for source in item.sources),
        tags=tuple(item.tags),
        cluster=item.cluster_id,
    )


def _lookback(workspace: Workspace, spec: SlotSpec) -> timedelta:
    deliverable = next(
        d for d in workspace.campaigns[spec.campaign].deliverables if d.id == spec.deliverable
    )
    if isinstance(deliverable, NewsletterDeliverable):
        return deliverable.select.lookback
    return deliverable.trigger.window


def _partner_feeds(workspace: Workspace, initiative: str) -> dict[str, str]:
    """The other initiatives' own feeds, each named for its initiative, for „Aus dem Netzwerk“."""
    return {
        feed: other.name
        for other in workspace.initiatives.values()
        if other.slug != initiative
        for feed in other.feeds
    }


def load_candidates(session: Session, since: datetime, until: datetime) -> list[Candidate]:
    items = session.scalars(
        select(Item)
        .where(Item.published_at > since, Item.published_at <= until)
        .order_by(Item.published_at, Item.id)
    )
    return [candidate_of(item) for item in items]


def existing_pieces(session: Session, slot_key: str, initiative: str) -> list[Piece]:
    return list(
        session.scalars(
            select(Piece)
            .where(Piece.slot_key == slot_key, Piece.initiative == initiative)
            .order_by(Piece.id)
        )
    )


def composition_input(
    session: Session, workspace: Workspace, spec: SlotSpec, initiative: str
) -> CompositionInput:
    """What the composers get for ``initiative`` in ``spec``; only reads the database, so
    ``depesche preview`` composes from exactly the input a run would."""
    campaign = workspace.campaigns[spec.campaign]
    item = session.get(Item, spec.item_id) if spec.item_id else None
    return CompositionInput(
        workspace_root=workspace.root,
        campaign_name=spec.campaign,
        campaign=campaign,
        deliverable_id=spec.deliverable,
        initiative=workspace.initiatives[initiative],
        due_at=spec.due_at,
        candidates=tuple(
            load_candidates(session, spec.due_at - _lookback(workspace, spec), spec.due_at)
        ),
        feed_titles={f.id: f.title or f.id for f in workspace.feeds.values()},
        item=candidate_of(item) if item is not None else None,
        partner_feeds=_partner_feeds(workspace, initiative),
        hashtags=workspace.hashtags,
        images=workspace.images,
    )


def assemble(
    session: Session,
    workspace: Workspace,
    spec: SlotSpec,
    initiative: str,
    *,
    now: datetime,
) -> list[Piece]:
    """The pieces of ``initiative`` for ``spec``: the stored ones, or newly composed and stored."""
    stored = existing_pieces(session, spec.key, initiative)
    if stored:
        return stored
    inp = composition_input(session, workspace, spec, initiative)
    # The review policy, the campaign's hash (for stale detection) and the send-at and embargo
    # times, fixed at composition.
    review = review_setup(workspace, spec.campaign, spec.deliverable, spec.due_at)
    pieces = []
    for composed in compose(inp):
        key = piece_key(spec.key, initiative, composed)
        piece = Piece(
            key=key,
            slot_key=spec.key,
            initiative=initiative,
            campaign=spec.campaign,
            deliverable=spec.deliverable,
            kind=composed.kind,
            platform=composed.platform,
            state=INITIAL_STATE,
            provenance={
                "items": [
                    {"url": use.url, "reason": use.reason, "score": use.score}
                    for use in composed.items
                ],
                "template": composed.template,
                "revision": workspace.revision,
                "facts": composed.facts,
                "audience": composed.audience,
                **review.provenance(),
            },
            created_at=now,
            send_at=review.send_at,
            embargo_until=review.embargo_until,
            files=[
                PieceFile(
                    name=f.name,
                    media_type=f.media_type,
                    content=f.content,
                    sha256=hashlib.sha256(f.content).hexdigest(),
                )
                for f in composed.files
            ],
        )
        session.add(piece)
        record_event(
            session,
            "piece.drafted",
            f"piece.drafted:{key}",
            {"piece": key, "initiative": initiative, "kind": composed.kind},
            now,
        )
        pieces.append(piece)
    session.flush()
    for piece in pieces:
        start_review(session, piece, now=now)
    return pieces
