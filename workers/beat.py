"""Beat's static entries: periodic housekeeping that is an interval, not a campaign slot.

Campaign schedules (cron, RRULE, ``at``) are no entries here: ``workers.scheduler``'s
``DatabaseScheduler`` fires them from the database, DST-correct and once per slot, which
Celery's ``crontab`` entries are not (see its docstring). What stays:

- ``sweep``: re-send shares the database shows unfinished and unclaimed (every
  ``DEPESCHE_SWEEP_INTERVAL`` seconds), so a lost broker queue or a killed worker loses nothing,
  and a beat that died between opening runs and sending their shares loses nothing either;
- ``dispatch-events``: the event outbox's dispatcher, which fires ``on:`` triggers;
- one entry per feed at its own interval.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from campaigns.workspace import Workspace
from config.settings import Settings


def beat_schedule(workspace: Workspace, settings: Settings) -> dict[str, dict[str, Any]]:
    schedule: dict[str, dict[str, Any]] = {
        "sweep": {
            "task": "depesche.sweep",
            "schedule": timedelta(seconds=settings.sweep_interval),
        }
    }
    # The event outbox (workers/outbox.py): recorded events reach their handlers within seconds;
    # a tick nobody picked up in time expires, since the next one does the same work.
    schedule["dispatch-events"] = {
        "task": "depesche.dispatch_events",
        "schedule": timedelta(seconds=5),
        "options": {"expires": 5},
    }
    # One entry per feed at its own interval; the task skips a feed that is paused or backing off.
    for feed in workspace.feeds.values():
        schedule[f"feed:{feed.id}"] = {
            "task": "depesche.fetch_feed",
            "schedule": feed.interval,
            "args": [feed.id],
        }
    return schedule
