"""When triggers fire: schedule and milestone instants, and which items an event trigger takes.

Everything here is pure: the clock and the items arrive as arguments, so a replay of any past week
computes exactly what a live run computed then.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from dateutil.rrule import rrulestr

from campaigns.schema import Campaign, EventFilter, MilestoneRef, Trigger

MINUTE = timedelta(minutes=1)


def localise(value: datetime, zone: ZoneInfo) -> datetime:
    """A naive date-time in a campaign file means local time in the campaign's timezone."""
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


def resolve_instant(value: datetime | MilestoneRef, campaign: Campaign) -> datetime:
    """An ``at`` or ``embargo`` value as an aware UTC instant."""
    zone = ZoneInfo(campaign.timezone)
    if isinstance(value, MilestoneRef):
        base = campaign.milestones[value.milestone]
        return (localise(base, zone) + value.offset).astimezone(UTC)
    return localise(value, zone).astimezone(UTC)


def period_bounds(campaign: Campaign) -> tuple[datetime, datetime]:
    """The campaign's period as a half-open UTC interval covering its first and last local day."""
    zone = ZoneInfo(campaign.timezone)
    start = datetime.combine(campaign.period.start, time(0), zone)
    end = datetime.combine(campaign.period.end + timedelta(days=1), time(0), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def _schedule_instants(
    expression: str, zone: ZoneInfo, start: datetime, end: datetime
) -> Iterator[datetime]:
    if expression.upper().startswith("RRULE:"):
        local_start = start.astimezone(zone).replace(tzinfo=None)
        rule = rrulestr(expression, dtstart=local_start.replace(second=0, microsecond=0))
        local_end = end.astimezone(zone).replace(tzinfo=None)
        for occurrence in rule.xafter(local_start - MINUTE, inc=False):
            if occurrence > local_end:
                return
            yield occurrence.replace(tzinfo=zone).astimezone(UTC)
        return
    cursor = croniter(expression, start.astimezone(zone) - timedelta(seconds=1))
    while True:
        instant: datetime = cursor.get_next(datetime).astimezone(UTC)
        if instant >= end:
            return
        yield instant


def fire_times(
    trigger: Trigger, campaign: Campaign, start: datetime, end: datetime
) -> list[datetime]:
    """Instants in ``[start, end)`` (UTC) at which a schedule or ``at`` trigger fires."""
    first, last = period_bounds(campaign)
    lo, hi = max(start, first), min(end, last)
    if lo >= hi:
        return []
    if trigger.schedule is not None:
        zone = ZoneInfo(campaign.timezone)
        return list(_schedule_instants(trigger.schedule, zone, lo, hi))
    if trigger.at is not None:
        instant = resolve_instant(trigger.at, campaign)
        return [instant] if lo <= instant < hi else []
    return []


def due_in_minute(trigger: Trigger, campaign: Campaign, at: datetime) -> list[datetime]:
    """Fire times within the minute that contains ``at``: what ``depesche run --at`` fires."""
    minute = at.astimezone(UTC).replace(second=0, microsecond=0)
    return fire_times(trigger, campaign, minute, minute + MINUTE)


def _text_of(payload: Mapping[str, Any]) -> str:
    return f"{payload.get('title', '')}\n{payload.get('summary', '')}".casefold()


def event_matches(
    event_filter: EventFilter, payload: Mapping[str, Any], initiative_feeds: set[str]
) -> bool:
    """Whether an ``item.published`` payload passes a trigger's filter.

    Keywords match case-insensitively in title or summary; ``initiatives`` restricts to items
    from those initiatives' own feeds (``initiative_feeds`` is that set, computed by the caller).
    """
    if event_filter.feeds and payload.get("feed_id") not in event_filter.feeds:
        return False
    if event_filter.tags and not set(event_filter.tags) & set(payload.get("tags", [])):
        return False
    if event_filter.initiatives and payload.get("feed_id") not in initiative_feeds:
        return False
    if event_filter.keywords:
        text = _text_of(payload)
        return any(keyword.casefold() in text for keyword in event_filter.keywords)
    return True
