"""When triggers fire: schedule and milestone instants, and which items an event trigger takes.

Everything here is pure: the clock and the items arrive as arguments, so a replay of any past week
computes exactly what a live run computed then.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from itertools import takewhile
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from dateutil.rrule import rrulebase, rrulestr

from campaigns.schema import Campaign, EventFilter, MilestoneRef, Trigger

MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


def wall_time(instant: datetime, zone: ZoneInfo) -> datetime:
    """What the clocks in ``zone`` show at ``instant``, as a naive date-time."""
    return instant.astimezone(zone).replace(tzinfo=None)


def wall_clock_instant(local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant a naive local time in ``zone`` stands for, DST-correct.

    A campaign means local times ("02:30 in Berlin"), and twice a year a local time is not one
    instant: in spring's gap it does not exist, in autumn's fold it exists twice. Our rule,
    for cron, RRULE and ``at`` alike: a time that exists twice is its first occurrence (the
    summer-time one); a time in the gap is the first instant after the gap (02:30 on
    2026-03-29 in Berlin is 03:00 CEST, 01:00 UTC). ``fold=0`` gives the first occurrence;
    in a gap it gives an instant after the gap but shifted by its length, so the transition
    itself is found by bisection between the two readings (exact for any zone and gap size).
    """
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if wall_time(first, zone) == local:
        return first
    other = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    # In the gap: wall(before) < local < wall(after), and the transition lies between.
    before = int(min(first, other).timestamp())
    after = int(max(first, other).timestamp()) + 1
    while after - before > 1:
        middle = (before + after) // 2
        if wall_time(datetime.fromtimestamp(middle, UTC), zone) > local:
            after = middle
        else:
            before = middle
    return datetime.fromtimestamp(after, UTC)


def localise(value: datetime, zone: ZoneInfo) -> datetime:
    """A naive date-time in a campaign file means local time in the campaign's timezone."""
    if value.tzinfo is not None:
        return value
    return wall_clock_instant(value, zone).astimezone(zone)


def resolve_instant(value: datetime | MilestoneRef, campaign: Campaign) -> datetime:
    """An ``at`` or ``embargo`` value as an aware UTC instant.

    A milestone's offset counts in local calendar time ("-1d" is the same wall-clock time the
    day before, even across a clock change); the result is resolved like every local time.
    """
    zone = ZoneInfo(campaign.timezone)
    if isinstance(value, MilestoneRef):
        base = campaign.milestones[value.milestone]
        if base.tzinfo is not None:
            return (base + value.offset).astimezone(UTC)
        return wall_clock_instant(base + value.offset, zone)
    return localise(value, zone).astimezone(UTC)


def period_bounds(campaign: Campaign) -> tuple[datetime, datetime]:
    """The campaign's period as a half-open UTC interval covering its first and last local day."""
    zone = ZoneInfo(campaign.timezone)
    start = wall_clock_instant(datetime.combine(campaign.period.start, time(0)), zone)
    end = wall_clock_instant(
        datetime.combine(campaign.period.end + timedelta(days=1), time(0)), zone
    )
    return start, end


def _is_rrule(expression: str) -> bool:
    return expression.strip().upper().startswith("RRULE:")


@lru_cache(maxsize=256)
def _rule(expression: str, dtstart: datetime) -> rrulebase:
    """Parsed once per rule: a cached rule does not recount from its start on every tick."""
    rule: rrulebase = rrulestr(expression, dtstart=dtstart, cache=True)
    return rule


def _wall_times(expression: str, after: datetime, dtstart: datetime) -> Iterator[datetime]:
    """Naive local wall-clock times matching ``expression``, ascending, from ``after`` on.

    Both libraries are used on naive times only, i.e. on the calendar, where every local time
    matches exactly once. Given aware times, croniter 7 yields 02:30 twice on 2026-10-25 in
    Berlin (once per UTC offset) and skips ``30 * * * *`` in the spring gap; we do not let it
    near the zone. An RRULE counts from ``dtstart`` (the campaign's first local midnight), so
    ``INTERVAL=2`` means the same days whichever window is asked for.
    """
    if _is_rrule(expression):
        yield from _rule(expression.strip(), dtstart).xafter(after, inc=True)
        return
    cursor = croniter(expression, after - SECOND)
    while True:
        yield cursor.get_next(datetime)


def schedule_instants(expression: str, campaign: Campaign, start: datetime) -> Iterator[datetime]:
    """Every UTC instant at or after ``start`` at which a cron or RRULE schedule fires.

    Semantics: one firing per distinct local wall-clock time that matches the expression,
    resolved by :func:`wall_clock_instant`, and one firing per instant (the times of a spring
    gap, e.g. 02:00, 02:15, 02:30 and 02:45 for ``*/15``, all resolve to 03:00 CEST, which
    fires once). So an hourly ``0 * * * *`` fires 23 times on the spring day and 24 on the
    autumn day: 02:00 fires at its first occurrence only, like every other repeated time.
    The resolution is monotonic, so instants come out ascending; the walk starts early enough
    to include gap times that resolve exactly to ``start``. It ends with the campaign period.
    """
    zone = ZoneInfo(campaign.timezone)
    first, last = period_bounds(campaign)
    start = max(start, first)
    floor = min(wall_time(start, zone), wall_time(start - SECOND, zone) + SECOND)
    dtstart = datetime.combine(campaign.period.start, time(0))
    previous: datetime | None = None
    for local in _wall_times(expression, floor, dtstart):
        instant = wall_clock_instant(local, zone)
        if instant >= last:
            return
        if instant < start or instant == previous:
            continue
        previous = instant
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
        return list(takewhile(lambda t: t < hi, schedule_instants(trigger.schedule, campaign, lo)))
    if trigger.at is not None:
        instant = resolve_instant(trigger.at, campaign)
        return [instant] if lo <= instant < hi else []
    return []


def next_fire_time(trigger: Trigger, campaign: Campaign, after: datetime) -> datetime | None:
    """The first instant at or after ``after`` at which the trigger fires (None: never again)."""
    first, last = period_bounds(campaign)
    if trigger.schedule is not None:
        return next(schedule_instants(trigger.schedule, campaign, after), None)
    if trigger.at is not None:
        instant = resolve_instant(trigger.at, campaign)
        return instant if max(after, first) <= instant < last else None
    return None


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
