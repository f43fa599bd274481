"""What one beat tick decides: which slots are due, which were missed, when to wake next.

Pure, like lemon24/reader's ``Decider``: the campaigns, the stored watermark and ``now`` go in,
a :class:`TickPlan` comes out; the beat (``workers.scheduler``) does the I/O. Keeping the
decision here is what lets the tests drive whole clock-change weekends minute by minute.

The watermark (``checked_until``) is the instant before which every slot has been decided
(fired or recorded as missed). A tick looks at ``[checked_until, now]``, so a beat that slept
too long, was down, or saw the wall clock jump forward still sees every slot exactly once;
a clock that jumps back simply finds an empty window until it has caught up again.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from campaigns.planner import SlotSpec, schedule_folder
from campaigns.schema import Campaign
from campaigns.triggers import fire_times, next_fire_time

# Datetimes have microsecond resolution: ``[start, now + TICK_RESOLUTION)`` is ``[start, now]``.
TICK_RESOLUTION = timedelta(microseconds=1)


@dataclass(frozen=True)
class TickPlan:
    due: list[SlotSpec]
    """Slots to fire now: due in the window and no older than the grace period."""
    missed: list[SlotSpec]
    """Slots due in the window but older than the grace period: record them, never fire them."""
    checked_until: datetime
    """The new watermark: store it with the tick's effects, in one transaction."""
    wake_at: datetime | None
    """The next instant a slot falls due (None: no schedule fires again)."""


def _timed(campaigns: Mapping[str, Campaign]) -> Iterator[tuple[str, Campaign, int]]:
    """Schedule and ``at`` deliverables; ``on`` triggers fire from events, not from the clock."""
    for name, campaign in campaigns.items():
        for index, deliverable in enumerate(campaign.deliverables):
            if deliverable.trigger.schedule is not None or deliverable.trigger.at is not None:
                yield name, campaign, index


def slots_between(
    campaigns: Mapping[str, Campaign], start: datetime, end: datetime
) -> list[SlotSpec]:
    """Schedule and milestone slots in ``[start, end)``, in time order."""
    slots = []
    for name, campaign, index in _timed(campaigns):
        d = campaign.deliverables[index]
        for instant in fire_times(d.trigger, campaign, start, end):
            slots.append(SlotSpec(name, d.id, d.kind, schedule_folder(d.id, instant), instant))
    return sorted(slots, key=lambda s: (s.due_at, s.key))


def next_wake(campaigns: Mapping[str, Campaign], after: datetime) -> datetime | None:
    """The first instant at or after ``after`` at which any schedule or milestone fires."""
    instants = [
        instant
        for _, campaign, index in _timed(campaigns)
        if (instant := next_fire_time(campaign.deliverables[index].trigger, campaign, after))
        is not None
    ]
    return min(instants, default=None)


def plan_tick(
    campaigns: Mapping[str, Campaign],
    checked_until: datetime | None,
    now: datetime,
    *,
    grace: timedelta,
) -> TickPlan:
    """Decide the window ``[checked_until, now]``.

    A slot due at ``now - grace`` or later fires (late by at most ``grace``, e.g. after a
    restart); an older one is missed: a newsletter hours late is worse than none, and the PR
    team sees it in the record instead. With no watermark yet (a first start), the window opens
    ``grace`` before ``now``: a new deployment catches up what is still worth sending and does
    not declare the whole campaign history missed. The watermark never moves back.
    """
    horizon = now + TICK_RESOLUTION
    start = checked_until if checked_until is not None else now - grace
    if start >= horizon:
        return TickPlan([], [], start, next_wake(campaigns, start))
    cutoff = now - grace
    slots = slots_between(campaigns, start, horizon)
    return TickPlan(
        due=[s for s in slots if s.due_at >= cutoff],
        missed=[s for s in slots if s.due_at < cutoff],
        checked_until=horizon,
        wake_at=next_wake(campaigns, horizon),
    )
