"""Preview: compose one deliverable for one initiative at an instant, and store nothing.

A PR team wants to see a piece before its slot fires: the press release with this week's quotes,
the digest as it would look on Monday. The preview builds exactly the composition input a run
would (:func:`content.assembly.composition_input`) from the items already in the database and
composes it; it never writes a piece, an event or a file, and its session is rolled back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from campaigns.planner import SlotSpec, due_slots, schedule_folder
from campaigns.schema import Campaign
from campaigns.triggers import fire_times, period_bounds, resolve_instant
from campaigns.workspace import Workspace
from config.db import get_engine
from config.models import Event
from content.assembly import composition_input
from content.composers import compose
from content.composers.base import ComposedPiece
from content.social.counting import LIMITS, length


class PreviewError(Exception):
    """The preview cannot be made as asked: names what to change (campaign, deliverable, slug)."""


@dataclass(frozen=True)
class Preview:
    spec: SlotSpec
    initiative: str
    pieces: tuple[ComposedPiece, ...]


@dataclass(frozen=True)
class PostCount:
    """A social post's length as its platform counts it, against that platform's limit."""

    platform: str
    length: int  # of the longest post, for a thread
    limit: int
    posts: int = 1
    limit_source: str | None = None  # where an instance's own limit was read, if it was

    @property
    def fits(self) -> bool:
        return self.length <= self.limit


def default_instant(campaign: Campaign, deliverable_id: str, now: datetime) -> datetime:
    """When to preview without ``--at``: the milestone of an ``at`` trigger; the next firing of a
    schedule (or its last one, for a campaign that is over); ``now`` for an event trigger."""
    trigger = next(d for d in campaign.deliverables if d.id == deliverable_id).trigger
    if trigger.at is not None:
        return resolve_instant(trigger.at, campaign)
    if trigger.schedule is not None:
        first, last = period_bounds(campaign)
        ahead = fire_times(trigger, campaign, max(now, first), last)
        if ahead:
            return ahead[0]
        past = fire_times(trigger, campaign, first, last)
        if past:
            return past[-1]
    return now


def _published(session: Session) -> list[Mapping[str, Any]]:
    return [
        event.payload
        for event in session.scalars(
            select(Event).where(Event.type == "item.published").order_by(Event.id)
        )
    ]


def preview_slot(
    workspace: Workspace,
    campaign_name: str,
    deliverable_id: str,
    at: datetime,
    published: Sequence[Mapping[str, Any]],
) -> SlotSpec:
    """The slot a run at ``at`` would fire; an event trigger takes the latest matching item in
    its window, and without one composes from its selection like a scheduled slot."""
    campaign = workspace.campaigns[campaign_name]
    deliverable = next(d for d in campaign.deliverables if d.id == deliverable_id)
    if deliverable.trigger.on is not None:
        matching = [
            slot
            for slot in due_slots(workspace, at, published, only=campaign_name)
            if slot.deliverable == deliverable_id and slot.item_id
        ]
        if matching:
            return matching[-1]
    return SlotSpec(
        campaign_name, deliverable_id, deliverable.kind, schedule_folder(deliverable_id, at), at
    )


def check_request(
    workspace: Workspace, campaign_name: str, deliverable_id: str, initiative: str
) -> None:
    """Raise :class:`PreviewError` naming the known choices when a name is wrong."""
    if campaign_name not in workspace.campaigns:
        known = ", ".join(workspace.campaigns) or "none"
        raise PreviewError(f"unknown campaign {campaign_name!r} (campaigns: {known})")
    ids = [d.id for d in workspace.campaigns[campaign_name].deliverables]
    if deliverable_id not in ids:
        raise PreviewError(
            f"campaign {campaign_name!r} has no deliverable {deliverable_id!r} "
            f"(deliverables: {', '.join(ids)})"
        )
    if initiative not in workspace.initiatives:
        known = ", ".join(workspace.initiatives)
        raise PreviewError(f"unknown initiative {initiative!r} (initiatives: {known})")


def preview(
    database_url: str,
    workspace: Workspace,
    campaign_name: str,
    deliverable_id: str,
    initiative: str,
    at: datetime,
) -> Preview:
    """Compose the pieces without storing them: the session only reads and is rolled back."""
    check_request(workspace, campaign_name, deliverable_id, initiative)
    session = sessionmaker(get_engine(database_url))()
    try:
        spec = preview_slot(workspace, campaign_name, deliverable_id, at, _published(session))
        inp = composition_input(session, workspace, spec, initiative)
    finally:
        session.rollback()
        session.close()
    return Preview(spec, initiative, tuple(compose(inp)))


def post_count(piece: ComposedPiece) -> PostCount:
    """The counted length and limit of a social piece, as its composer measured them when it
    recorded them (an instance's own Mastodon limit), else counted here on the post's text."""
    platform = piece.platform or ""
    counted, limit = piece.facts.get("length"), piece.facts.get("limit")
    if not isinstance(counted, int):
        text = next(f.content for f in piece.files if f.media_type.startswith("text/"))
        counted = length(platform, text.decode())
    if not isinstance(limit, int):
        limit = LIMITS[platform]
    thread = piece.facts.get("thread")
    posts = len(thread) if isinstance(thread, list) else 1
    source = piece.facts.get("limit_source")
    return PostCount(platform, counted, limit, posts, source if isinstance(source, str) else None)
