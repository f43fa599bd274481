"""The real ``DatabaseScheduler`` driven by an injected clock through both clock changes of 2026
in Europe/Berlin, restarts, downtime and a second beat, on a migrated database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from celery import Celery
from sqlalchemy import func, select

from campaigns.models import Run, Slot
from campaigns.workspace import Workspace, load_workspace
from config.db import session_scope
from config.models import Event
from workers.schedule_models import MissedSlot, ScheduleState
from workers.scheduler import DatabaseScheduler

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
QUARTER = timedelta(minutes=15)

CAMPAIGN = """\
title: Zeitumstellung
timezone: Europe/Berlin
period: {start: 2026-03-01, end: 2026-11-30}
targets: [krefeld]
milestones:
  fruehling: 2026-03-29T02:30:00
  herbst: 2026-10-25T02:30:00
deliverables:
  - {id: nachts, kind: social, trigger: {schedule: "30 2 * * *"}}
  - {id: regel, kind: social, trigger: {schedule: "RRULE:FREQ=DAILY;BYHOUR=2;BYMINUTE=30"}}
  - {id: stuendlich, kind: social, trigger: {schedule: "0 * * * *"}}
  - {id: viertel, kind: social, trigger: {schedule: "*/15 * * * *"}}
  - {id: fruehling, kind: social, trigger: {at: {milestone: fruehling}}}
  - {id: herbst, kind: social, trigger: {at: {milestone: herbst}}}
"""


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Sent:
    """Records the share ids a scheduler hands to the broker (the broker path has its own tests)."""

    def __init__(self) -> None:
        self.ids: list[int] = []

    def __call__(self, database_url: str, task_ids: list[int], now: datetime) -> None:
        self.ids.extend(task_ids)


@pytest.fixture()
def workspace(example_workspace: Path) -> Workspace:
    for existing in (example_workspace / "campaigns").glob("*.yaml"):
        existing.unlink()
    (example_workspace / "campaigns" / "zeitumstellung.yaml").write_text(CAMPAIGN)
    return load_workspace(example_workspace)


@pytest.fixture()
def celery_app() -> Iterator[Celery]:
    app = Celery("scheduler-test", broker="memory://")
    app.conf.update(beat_schedule={}, result_expires=None)
    yield app
    app.close()


MakeScheduler = Callable[..., DatabaseScheduler]


@pytest.fixture()
def make_scheduler(
    celery_app: Celery, database_url: str, workspace: Workspace, tmp_path: Path
) -> MakeScheduler:
    def make(
        clock: Clock, sent: Sent, grace: timedelta = timedelta(0), max_interval: int = 3600
    ) -> DatabaseScheduler:
        return DatabaseScheduler(
            celery_app,
            clock=clock,
            database_url=database_url,
            workspace=workspace,
            grace=grace,
            out_dir=tmp_path / "out",
            send=sent,
            max_interval=max_interval,
        )

    return make


def slots(database_url: str) -> dict[str, list[tuple[datetime, datetime]]]:
    """(due, fired) per deliverable, in time order."""
    with session_scope(database_url) as session:
        rows = session.scalars(select(Slot).order_by(Slot.due_at, Slot.key))
        found: dict[str, list[tuple[datetime, datetime]]] = {}
        for slot in rows:
            found.setdefault(slot.deliverable, []).append((slot.due_at, slot.fired_at))
        return found


def run_count(database_url: str) -> int:
    with session_scope(database_url) as session:
        return int(session.scalar(select(func.count()).select_from(Run)) or 0)


def by_wake_ups(scheduler: DatabaseScheduler, clock: Clock, until: datetime) -> int:
    """Tick, sleep as long as the scheduler asks (on the fake clock), until ``until``."""
    ticks = 0
    while clock.now < until:
        wait = scheduler.tick()
        ticks += 1
        clock.now += timedelta(seconds=wait)
    return ticks


def minute_by_minute(schedulers: list[DatabaseScheduler], clock: Clock, until: datetime) -> None:
    while clock.now < until:
        for scheduler in schedulers:
            scheduler.tick()
        clock.now += MINUTE


def every(step: timedelta, start: datetime, end: datetime) -> list[datetime]:
    return [start + n * step for n in range((end - start) // step)]


# 2026-03-28 00:00 CET to 2026-03-31 00:00 CEST, and 2026-10-24 00:00 CEST to 10-27 00:00 CET.
SPRING = (utc(2026, 3, 27, 23), utc(2026, 3, 30, 22))
AUTUMN = (utc(2026, 10, 23, 22), utc(2026, 10, 26, 23))


def within(
    found: dict[str, list[tuple[datetime, datetime]]], start: datetime, end: datetime
) -> dict[str, list[tuple[datetime, datetime]]]:
    return {d: [(due, at) for due, at in v if start <= due < end] for d, v in found.items()}


def assert_spring(found: dict[str, list[tuple[datetime, datetime]]]) -> None:
    nightly = [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)]
    for deliverable in ("nachts", "regel"):
        assert [due for due, _ in found[deliverable]] == nightly
    # 02:30 does not exist on 29 March: the first instant after the gap, 03:00 CEST.
    assert [due for due, _ in found["fruehling"]] == [utc(2026, 3, 29, 1)]
    # Every real hour and quarter hour once: the gap's local times collapse onto 03:00 CEST.
    assert [due for due, _ in found["stuendlich"]] == every(HOUR, *SPRING)
    assert [due for due, _ in found["viertel"]] == every(QUARTER, *SPRING)
    for fired in found.values():
        assert all(due == fired_at for due, fired_at in fired)  # on time, not late


def assert_autumn(found: dict[str, list[tuple[datetime, datetime]]]) -> None:
    nightly = [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
    for deliverable in ("nachts", "regel"):
        assert [due for due, _ in found[deliverable]] == nightly
    # 02:30 happens twice on 25 October: only its first occurrence, 02:30 CEST, fires.
    assert [due for due, _ in found["herbst"]] == [utc(2026, 10, 25, 0, 30)]
    # Once per local time: the repeated hour (02:00-02:59 CET, 01:00-01:59 UTC) fires nothing.
    repeated = every(QUARTER, utc(2026, 10, 25, 1), utc(2026, 10, 25, 2))
    assert [due for due, _ in found["stuendlich"]] == [
        t for t in every(HOUR, *AUTUMN) if t not in repeated
    ]
    assert [due for due, _ in found["viertel"]] == [
        t for t in every(QUARTER, *AUTUMN) if t not in repeated
    ]
    for fired in found.values():
        assert all(due == fired_at for due, fired_at in fired)


def test_spring_forward_weekend_fires_each_slot_once_at_the_right_instant(
    make_scheduler: MakeScheduler, database_url: str
) -> None:
    clock, sent = Clock(SPRING[0]), Sent()
    by_wake_ups(make_scheduler(clock, sent), clock, SPRING[1])
    found = slots(database_url)
    assert_spring(found)
    total = sum(len(v) for v in found.values())
    assert run_count(database_url) == total
    assert len(sent.ids) == len(set(sent.ids)) == total  # one share (krefeld) per slot, sent once


def test_fall_back_weekend_fires_each_slot_once_at_its_first_occurrence(
    make_scheduler: MakeScheduler, database_url: str
) -> None:
    clock, sent = Clock(AUTUMN[0]), Sent()
    by_wake_ups(make_scheduler(clock, sent), clock, AUTUMN[1])
    assert_autumn(slots(database_url))
    assert len(sent.ids) == len(set(sent.ids)) == run_count(database_url)


@pytest.mark.parametrize(
    ("night", "expect"),
    [
        ((utc(2026, 3, 28, 23), utc(2026, 3, 29, 3)), assert_spring),
        ((utc(2026, 10, 24, 22), utc(2026, 10, 25, 3)), assert_autumn),
    ],
    ids=["spring", "autumn"],
)
def test_ticking_every_minute_through_the_night_of_the_change_gives_the_same_slots(
    make_scheduler: MakeScheduler,
    database_url: str,
    night: tuple[datetime, datetime],
    expect: Callable[[dict[str, list[tuple[datetime, datetime]]]], None],
) -> None:
    """A beat that polls (woken early, say) must not fire more or differently than one that
    sleeps until its wake-ups: compare the night against the whole weekend's expectation."""
    weekend = SPRING if night[0].month == 3 else AUTUMN
    clock = Clock(night[0])
    minute_by_minute([make_scheduler(clock, Sent())], clock, night[1])
    found = slots(database_url)
    # Fill the rest of the weekend by wake-ups, then the whole must be exactly as expected.
    by_wake_ups(make_scheduler(clock, Sent()), clock, weekend[1])
    clock.now = weekend[0]
    with session_scope(database_url) as session:
        state = session.get(ScheduleState, "default")
        assert state is not None
        state.checked_until = weekend[0]
    by_wake_ups(make_scheduler(clock, Sent()), clock, night[0])
    whole = slots(database_url)
    assert within(whole, *night) == found
    expect(whole)


def test_beat_sleeps_until_the_next_slot_not_a_fixed_poll(
    make_scheduler: MakeScheduler,
) -> None:
    clock, sent = Clock(utc(2026, 10, 25, 0, 31)), Sent()
    scheduler = make_scheduler(clock, sent)
    assert scheduler.tick() == pytest.approx(14 * 60)  # the next quarter: 00:45 UTC
    assert make_scheduler(clock, sent, max_interval=300).tick() == 300  # Celery's cap holds
    assert scheduler.last_tick is not None
    assert scheduler.last_tick.wake_at == utc(2026, 10, 25, 0, 45)


def test_two_beats_on_one_database_fire_each_slot_once(
    make_scheduler: MakeScheduler, database_url: str
) -> None:
    clock, first_sent, second_sent = Clock(AUTUMN[0]), Sent(), Sent()
    first, second = make_scheduler(clock, first_sent), make_scheduler(clock, second_sent)
    while clock.now < AUTUMN[1]:
        wait = first.tick()
        second.tick()  # the same instant, a moment later
        clock.now += timedelta(seconds=wait)
    assert_autumn(slots(database_url))
    sent = first_sent.ids + second_sent.ids
    assert len(sent) == len(set(sent)) == run_count(database_url)


def test_restart_after_downtime_fires_slots_within_grace_once_and_records_older_as_missed(
    make_scheduler: MakeScheduler, database_url: str
) -> None:
    clock, sent = Clock(utc(2026, 5, 4, 6, 0)), Sent()
    make_scheduler(clock, sent, grace=HOUR).tick()
    # Beat is down from 06:00 to 10:30 UTC; a new process picks up the stored watermark.
    clock.now = utc(2026, 5, 4, 10, 30)
    restarted = make_scheduler(clock, Sent(), grace=HOUR)
    restarted.tick()
    hourly = slots(database_url)["stuendlich"]
    assert hourly == [
        (utc(2026, 5, 4, 5), utc(2026, 5, 4, 6)),  # the first start caught up its grace window
        (utc(2026, 5, 4, 6), utc(2026, 5, 4, 6)),
        (utc(2026, 5, 4, 10), clock.now),  # late, within grace: fired once
    ]
    with session_scope(database_url) as session:
        missed = list(
            session.scalars(
                select(MissedSlot.due_at)
                .where(MissedSlot.deliverable == "stuendlich")
                .order_by(MissedSlot.due_at)
            )
        )
        events = list(session.scalars(select(Event).where(Event.type == "slot.missed")))
    assert missed == [utc(2026, 5, 4, 7), utc(2026, 5, 4, 8), utc(2026, 5, 4, 9)]
    assert "zeitumstellung/stuendlich-20260504T0700Z" in {e.payload["slot"] for e in events}
    # Older than 09:30: hourly 07:00-09:00 and quarterly 06:15-09:15 (02:30 is before 06:00).
    assert len(events) == 3 + 13
    # A second restart at the same instant changes nothing.
    before = (run_count(database_url), len(events))
    make_scheduler(clock, Sent(), grace=HOUR).tick()
    with session_scope(database_url) as session:
        again = session.scalar(
            select(func.count()).select_from(Event).where(Event.type == "slot.missed")
        )
    assert (run_count(database_url), again) == before


def test_watermark_is_stored_in_the_database(
    make_scheduler: MakeScheduler, database_url: str
) -> None:
    clock = Clock(utc(2026, 5, 4, 6, 7))
    make_scheduler(clock, Sent()).tick()
    with session_scope(database_url) as session:
        state = session.get(ScheduleState, "default")
        assert state is not None
        assert state.checked_until > clock.now
        assert state.ticked_at == clock.now
