from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from campaigns.workspace import load_workspace
from workers.beat import beat_schedule


def test_cron_triggers_become_crontabs_in_the_campaign_timezone(example_workspace: Path) -> None:
    schedule = beat_schedule(load_workspace(example_workspace))
    digest = schedule["wochenrueckblick/digest"]
    assert digest["task"] == "depesche.fire_due"
    assert digest["kwargs"] == {"campaign": "wochenrueckblick"}
    crontab = digest["schedule"]
    assert crontab.hour == {8} and crontab.minute == {0} and crontab.day_of_week == {1}
    assert crontab.nowfun().tzinfo == ZoneInfo("Europe/Berlin")
    monday = datetime(2026, 11, 16, 7, 59, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    assert crontab.remaining_estimate(monday).total_seconds() <= 30


def test_milestones_and_events_are_picked_up_by_the_tick(example_workspace: Path) -> None:
    schedule = beat_schedule(load_workspace(example_workspace))
    assert schedule["tick"]["task"] == "depesche.fire_due"
    assert schedule["tick"]["schedule"].total_seconds() == 30
