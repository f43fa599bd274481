"""From triggers to slots, and from a slot to the initiatives it targets.

A slot is one firing of one trigger. Its key (``campaign/folder``) is the idempotency key of all
it causes, and its folder name is part of the output contract:
``<deliverable>-<UTC instant as YYYYMMDDTHHMMZ>`` or ``<deliverable>-item-<12 hex digits>``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from campaigns.schema import Campaign, Initiative, Selector, Trigger
from campaigns.triggers import due_in_minute, event_matches, fire_times, period_bounds
from campaigns.workspace import Workspace

# The event type an ``on:`` trigger reacts to (written by content's ingest; plain data here).
ITEM_PUBLISHED = "item.published"


@dataclass(frozen=True)
class SlotSpec:
    campaign: str
    deliverable: str
    kind: str
    folder: str
    due_at: datetime
    item_id: str | None = None

    @property
    def key(self) -> str:
        return f"{self.campaign}/{self.folder}"


def schedule_folder(deliverable: str, instant: datetime) -> str:
    return f"{deliverable}-{instant.astimezone(UTC):%Y%m%dT%H%MZ}"


def item_folder(deliverable: str, item_id: str) -> str:
    return f"{deliverable}-item-{hashlib.sha256(item_id.encode()).hexdigest()[:12]}"


def targets(workspace: Workspace, campaign: Campaign) -> list[Initiative]:
    """The campaign's initiatives in workspace order: all, a list of slugs, or a selector."""
    chosen = campaign.targets
    initiatives = list(workspace.initiatives.values())
    if chosen == "all":
        return initiatives
    if isinstance(chosen, Selector):
        return [
            i
            for i in initiatives
            if (not chosen.levels or i.level in chosen.levels)
            and (not chosen.tags or set(chosen.tags) & set(i.tags))
        ]
    wanted = set(chosen)
    return [i for i in initiatives if i.slug in wanted]


def _campaigns(workspace: Workspace, only: str | None) -> Iterable[tuple[str, Campaign]]:
    for name, campaign in workspace.campaigns.items():
        if only is None or name == only:
            yield name, campaign


def upcoming(
    workspace: Workspace, start: datetime, end: datetime, only: str | None = None
) -> list[SlotSpec]:
    """Schedule and milestone slots in ``[start, end)``, in time order (``depesche plan``)."""
    slots = [
        SlotSpec(name, d.id, d.kind, schedule_folder(d.id, instant), instant)
        for name, campaign in _campaigns(workspace, only)
        for d in campaign.deliverables
        for instant in fire_times(d.trigger, campaign, start, end)
    ]
    return sorted(slots, key=lambda s: (s.due_at, s.key))


def _filter_feeds(workspace: Workspace, trigger: Trigger) -> set[str]:
    """The own feeds of the initiatives an event filter names."""
    return {
        feed for slug in trigger.filter.initiatives for feed in workspace.initiatives[slug].feeds
    }


def _in_period(campaign: Campaign, instant: datetime) -> bool:
    """Event triggers, like schedules, fire only for items of the campaign's own period."""
    first, last = period_bounds(campaign)
    return first <= instant < last


def _published(payload: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(payload["published"])).astimezone(UTC)


def due_slots(
    workspace: Workspace,
    at: datetime,
    published: Iterable[Mapping[str, Any]],
    only: str | None = None,
) -> list[SlotSpec]:
    """Every slot due at the minute of ``at``.

    Schedule and milestone triggers fire when their instant falls in that minute; an event
    trigger fires once per matching ``item.published`` payload within its window before ``at``
    (a slot that already fired is recognised later by its key).
    """
    slots: list[SlotSpec] = []
    for name, campaign in _campaigns(workspace, only):
        for d in campaign.deliverables:
            for instant in due_in_minute(d.trigger, campaign, at):
                slots.append(SlotSpec(name, d.id, d.kind, schedule_folder(d.id, instant), instant))
    for payload in published:
        slots.extend(event_slots(workspace, payload, at, only))
    return sorted(slots, key=lambda s: (s.due_at, s.key))


def event_slots(
    workspace: Workspace,
    payload: Mapping[str, Any],
    at: datetime,
    only: str | None = None,
) -> list[SlotSpec]:
    """The event slots one ``item.published`` payload opens when it is seen at ``at``.

    Every deliverable triggered ``on: item.published`` fires once for an item that passes its
    filter and was published within its window before ``at``. The event handler passes the
    instant the event occurred, ``depesche run --at`` its own instant; both name the slot alike,
    so whichever comes second finds the slot by its key and opens nothing.
    """
    when = _published(payload)
    slots: list[SlotSpec] = []
    for name, campaign in _campaigns(workspace, only):
        for d in campaign.deliverables:
            trigger = d.trigger
            if trigger.on != ITEM_PUBLISHED or not at - trigger.window < when <= at:
                continue
            if not _in_period(campaign, when):
                continue
            if event_matches(trigger.filter, payload, _filter_feeds(workspace, trigger)):
                # A syndicated copy belongs to its story's cluster (named by the story's first
                # item): the slot is the story's, so a second outlet's copy fires nothing.
                item_id = str(payload.get("cluster_id") or payload["item_id"])
                folder = item_folder(d.id, item_id)
                slots.append(SlotSpec(name, d.id, d.kind, folder, when, item_id))
    return slots


def event_instants(
    workspace: Workspace,
    published: Iterable[Mapping[str, Any]],
    start: datetime,
    end: datetime,
) -> list[datetime]:
    """The minutes in ``[start, end)`` at which an item matching some event trigger appeared.

    ``depesche demo`` replays these, so every event-triggered piece shows up in its output.
    """
    payloads = list(published)
    instants: set[datetime] = set()
    for _, campaign in _campaigns(workspace, None):
        for d in campaign.deliverables:
            trigger = d.trigger
            if trigger.on is None:
                continue
            own_feeds = _filter_feeds(workspace, trigger)
            for payload in payloads:
                when = _published(payload)
                if not (start <= when < end and _in_period(campaign, when)):
                    continue
                if event_matches(trigger.filter, payload, own_feeds):
                    minute = when.replace(second=0, microsecond=0)
                    instants.add(minute if minute == when else minute + timedelta(minutes=1))
    return sorted(instants)
