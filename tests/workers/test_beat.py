from __future__ import annotations

from pathlib import Path

from campaigns.workspace import load_workspace
from config.settings import load_settings
from workers.beat import beat_schedule


def test_campaign_schedules_are_not_celery_crontab_entries(example_workspace: Path) -> None:
    schedule = beat_schedule(load_workspace(example_workspace), load_settings(example_workspace))
    assert not any(name.startswith("wochenrueckblick") for name in schedule)


def test_the_sweeper_runs_at_its_configured_interval(example_workspace: Path) -> None:
    settings = load_settings(example_workspace, sweep_interval=45.0)
    schedule = beat_schedule(load_workspace(example_workspace), settings)
    assert schedule["sweep"]["task"] == "depesche.sweep"
    assert schedule["sweep"]["schedule"].total_seconds() == 45


def test_event_triggers_are_fired_by_the_outbox_dispatcher(
    example_workspace: Path,
) -> None:
    schedule = beat_schedule(load_workspace(example_workspace), load_settings(example_workspace))
    assert schedule["dispatch-events"]["task"] == "depesche.dispatch_events"
