"""The pure tick decision: window, grace, missed slots, wake-ups, DST semantics of triggers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from campaigns.scheduler import next_wake, plan_tick
from campaigns.schema import Campaign, Trigger
from campaigns.triggers import fire_times, wall_clock_instant

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = timedelta(hours=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def campaign(*schedules: str) -> Campaign:
    return Campaign.model_validate(
        {
            "title": "Zeitumstellung",
            "period": {"start": "2026-03-01", "end": "2026-11-30"},
            "deliverables": [
                {"id": f"d{i}", "kind": "social", "trigger": {"schedule": s}}
                for i, s in enumerate(schedules)
            ],
        }
    )


def times(schedule: str, start: datetime, end: datetime) -> list[datetime]:
    return fire_times(Trigger(schedule=schedule), campaign(schedule), start, end)


def test_a_local_time_in_the_spring_gap_is_the_first_instant_after_it() -> None:
    assert wall_clock_instant(datetime(2026, 3, 29, 2, 30), BERLIN) == utc(2026, 3, 29, 1)
    assert wall_clock_instant(datetime(2026, 3, 29, 2, 0), BERLIN) == utc(2026, 3, 29, 1)


def test_a_repeated_local_time_in_autumn_is_its_first_occurrence() -> None:
    assert wall_clock_instant(datetime(2026, 10, 25, 2, 30), BERLIN) == utc(2026, 10, 25, 0, 30)
    assert wall_clock_instant(datetime(2026, 10, 25, 3, 0), BERLIN) == utc(2026, 10, 25, 2)


def test_daily_half_past_two_fires_once_on_both_clock_change_nights() -> None:
    for schedule in ("30 2 * * *", "RRULE:FREQ=DAILY;BYHOUR=2;BYMINUTE=30"):
        spring = times(schedule, utc(2026, 3, 27, 23), utc(2026, 3, 30, 22))
        assert spring == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)]
        autumn = times(schedule, utc(2026, 10, 23, 22), utc(2026, 10, 26, 23))
        assert autumn == [
            utc(2026, 10, 24, 0, 30),
            utc(2026, 10, 25, 0, 30),
            utc(2026, 10, 26, 1, 30),
        ]


def test_hourly_fires_once_per_local_hour_so_the_repeated_two_oclock_fires_once() -> None:
    spring = times("0 * * * *", utc(2026, 3, 28, 23), utc(2026, 3, 29, 23))
    assert spring == [utc(2026, 3, 28, 23) + n * HOUR for n in range(24)]  # 23 local hours + 1
    autumn = times("0 * * * *", utc(2026, 10, 24, 22), utc(2026, 10, 25, 23))
    assert len(autumn) == 24 and utc(2026, 10, 25, 0) in autumn
    assert utc(2026, 10, 25, 1) not in autumn  # 02:00 CET, the second two o'clock


def test_quarter_hours_of_the_spring_gap_collapse_into_one_firing_at_three() -> None:
    spring = times("*/15 * * * *", utc(2026, 3, 29, 0), utc(2026, 3, 29, 2))
    quarter = timedelta(minutes=15)
    assert spring == [utc(2026, 3, 29, 0) + n * quarter for n in range(8)]
    autumn = times("*/15 * * * *", utc(2026, 10, 25, 0), utc(2026, 10, 25, 2))
    assert autumn == [utc(2026, 10, 25, 0) + n * quarter for n in range(4)]


def test_rrule_interval_counts_from_the_campaign_start_not_from_the_window() -> None:
    schedule = "RRULE:FREQ=DAILY;INTERVAL=2;BYHOUR=8;BYMINUTE=0"
    assert times(schedule, utc(2026, 3, 2), utc(2026, 3, 6)) == [
        utc(2026, 3, 3, 7),
        utc(2026, 3, 5, 7),
    ]
    assert times(schedule, utc(2026, 3, 3, 12), utc(2026, 3, 6)) == [utc(2026, 3, 5, 7)]


def test_tick_fires_slots_since_the_watermark_up_to_and_including_now() -> None:
    c = {"c": campaign("0 * * * *")}
    plan = plan_tick(c, utc(2026, 5, 1, 10, 30), utc(2026, 5, 1, 12), grace=HOUR)
    assert [s.due_at for s in plan.due] == [utc(2026, 5, 1, 11), utc(2026, 5, 1, 12)]
    assert plan.missed == []
    assert plan.checked_until > utc(2026, 5, 1, 12)
    assert plan.wake_at == utc(2026, 5, 1, 13)
    again = plan_tick(c, plan.checked_until, utc(2026, 5, 1, 12, 0, 30), grace=HOUR)
    assert again.due == [] and again.wake_at == utc(2026, 5, 1, 13)


def test_slots_older_than_the_grace_window_are_missed_not_fired() -> None:
    c = {"c": campaign("0 * * * *")}
    plan = plan_tick(c, utc(2026, 5, 1, 6, 30), utc(2026, 5, 1, 10, 15), grace=HOUR)
    assert [s.due_at for s in plan.missed] == [utc(2026, 5, 1, h) for h in (7, 8, 9)]
    assert [s.due_at for s in plan.due] == [utc(2026, 5, 1, 10)]
    assert plan.missed[0].key == "c/d0-20260501T0700Z"


def test_a_slot_exactly_grace_old_still_fires() -> None:
    c = {"c": campaign("0 * * * *")}
    plan = plan_tick(c, utc(2026, 5, 1, 8, 30), utc(2026, 5, 1, 10), grace=HOUR)
    assert [s.due_at for s in plan.due] == [utc(2026, 5, 1, 9), utc(2026, 5, 1, 10)]


def test_first_start_catches_up_only_the_grace_window() -> None:
    c = {"c": campaign("0 * * * *")}
    plan = plan_tick(c, None, utc(2026, 5, 1, 10, 15), grace=HOUR)
    assert [s.due_at for s in plan.due] == [utc(2026, 5, 1, 10)]
    assert plan.missed == []


def test_a_clock_that_went_back_finds_an_empty_window_and_keeps_the_watermark() -> None:
    c = {"c": campaign("0 * * * *")}
    watermark = utc(2026, 5, 1, 12, 0, 0, 1)
    plan = plan_tick(c, watermark, utc(2026, 5, 1, 11, 59), grace=HOUR)
    assert plan.due == plan.missed == []
    assert plan.checked_until == watermark
    assert plan.wake_at == utc(2026, 5, 1, 13)


def test_wake_up_is_the_soonest_trigger_and_none_after_the_period() -> None:
    c = {"a": campaign("0 8 * * MON"), "b": campaign("30 2 * * *")}
    assert next_wake(c, utc(2026, 10, 24, 22)) == utc(2026, 10, 25, 0, 30)
    assert next_wake(c, utc(2026, 12, 1)) is None
