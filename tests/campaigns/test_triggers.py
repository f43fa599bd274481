from __future__ import annotations

from datetime import UTC, datetime, timedelta

from campaigns.schema import Campaign, EventFilter, MilestoneRef, Trigger
from campaigns.triggers import due_in_minute, event_matches, fire_times, resolve_instant


def campaign(**extra: object) -> Campaign:
    data = {
        "title": "Test",
        "period": {"start": "2026-10-01", "end": "2026-11-30"},
        "deliverables": [],
        **extra,
    }
    return Campaign.model_validate(data)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_monday_eight_oclock_stays_local_across_the_autumn_clock_change() -> None:
    times = fire_times(
        Trigger(schedule="0 8 * * MON"), campaign(), utc(2026, 10, 15), utc(2026, 11, 3)
    )
    # 08:00 CEST is 06:00 UTC; after 25 October, 08:00 CET is 07:00 UTC.
    assert times == [utc(2026, 10, 19, 6), utc(2026, 10, 26, 7), utc(2026, 11, 2, 7)]


def test_rrule_and_cron_agree() -> None:
    rrule = Trigger(schedule="RRULE:FREQ=WEEKLY;BYDAY=MO;BYHOUR=8;BYMINUTE=0")
    cron = Trigger(schedule="0 8 * * MON")
    span = (utc(2026, 10, 1), utc(2026, 12, 1))
    assert fire_times(rrule, campaign(), *span) == fire_times(cron, campaign(), *span)


def test_slots_stay_inside_the_campaign_period() -> None:
    times = fire_times(
        Trigger(schedule="0 8 * * MON"), campaign(), utc(2026, 9, 1), utc(2027, 1, 1)
    )
    assert times[0] == utc(2026, 10, 5, 6)
    assert times[-1] == utc(2026, 11, 30, 7)


def test_milestone_with_offset_is_local_time_of_the_campaign() -> None:
    c = campaign(milestones={"kickoff": "2026-11-09T10:00:00"})
    at = MilestoneRef(milestone="kickoff", offset=timedelta(days=-1))
    assert resolve_instant(at, c) == utc(2026, 11, 8, 9)
    assert due_in_minute(Trigger(at=at), c, utc(2026, 11, 8, 9, 0, 42)) == [utc(2026, 11, 8, 9)]
    assert due_in_minute(Trigger(at=at), c, utc(2026, 11, 8, 9, 1)) == []


def test_event_filter_matches_keywords_case_insensitively_in_title_or_summary() -> None:
    payload = {"feed_id": "krefeld", "title": "Start der WOCHE der Industrie", "tags": ["regional"]}
    assert event_matches(EventFilter(keywords=["Woche der Industrie"]), payload, set())
    assert not event_matches(EventFilter(keywords=["Wasserstoff"]), payload, set())
    assert event_matches(
        EventFilter(keywords=["wasserstoff"]), {**payload, "summary": "Wasserstoff"}, set()
    )
    assert not event_matches(EventFilter(feeds=["bund"]), payload, set())
    assert event_matches(EventFilter(tags=["regional"]), payload, set())
    assert not event_matches(EventFilter(initiatives=["x"]), payload, {"other"})
    assert event_matches(EventFilter(initiatives=["x"]), payload, {"krefeld"})


def test_a_syndicated_copy_opens_the_slot_of_its_story(example_workspace) -> None:
    from campaigns.planner import event_slots
    from campaigns.workspace import load_workspace

    workspace = load_workspace(example_workspace)
    story = {
        "item_id": "a" * 24,
        "cluster_id": "a" * 24,
        "feed_id": "krefeld",
        "title": "Woche der Industrie: Werkstore öffnen",
        "tags": ["regional"],
        "published": "2026-11-10T09:00:00+00:00",
    }
    copy = {**story, "item_id": "b" * 24, "feed_id": "bund"}
    at = utc(2026, 11, 10, 12)
    assert [s.key for s in event_slots(workspace, copy, at)] == [
        s.key for s in event_slots(workspace, story, at)
    ]
    assert [s.item_id for s in event_slots(workspace, copy, at)] == ["a" * 24]
