"""Beat's static entries: periodic housekeeping that is an interval, not a campaign slot.

Campaign schedules (cron, RRULE, ``at``) are no entries here: ``workers.scheduler``'s
``DatabaseScheduler`` fires them from the database, DST-correct and once per slot, which
Celery's ``crontab`` entries are not (see its docstring). What stays:

- ``sweep``: re-send shares the database shows unfinished and unclaimed (every
  ``DEPESCHE_SWEEP_INTERVAL`` seconds), so a lost broker queue or a killed worker loses nothing,
  and a beat that died between opening runs and sending their shares loses nothing either;
- ``dispatch-events``: the event outbox's dispatcher, which fires ``on:`` triggers;
- ``purge-retention``: once a day, the GDPR retention purge (``workers/gdpr.py``);
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
    # Deliveries (workers/delivery.py): due ones leave within seconds; the database holds every
    # wait (backoff, Sperrfrist), so a missed tick only delays, and a late one expires.
    schedule["release-deliveries"] = {
        "task": "depesche.release_deliveries",
        "schedule": timedelta(seconds=settings.delivery_interval),
        "options": {"expires": settings.delivery_interval},
    }
    # Review (content/review.py): pieces of a changed campaign become stale (hold_reason already
    # holds them; this records it, with an event).
    schedule["mark-stale"] = {
        "task": "depesche.mark_stale",
        "schedule": timedelta(seconds=settings.sweep_interval),
        "options": {"expires": settings.sweep_interval},
    }
    # Retention (workers/gdpr.py): stale sign-ups and old delivery records, once a day; the
    # purge is idempotent, so a repeated or late tick deletes nothing twice.
    schedule["purge-retention"] = {
        "task": "depesche.purge_retention",
        "schedule": timedelta(days=1),
        "options": {"expires": 3600},
    }
    # One entry per feed at its own interval; the task skips a feed that is paused or backing off.
    for feed in workspace.feeds.values():
        schedule[f"feed:{feed.id}"] = {
            "task": "depesche.fetch_feed",
            "schedule": feed.interval,
            "args": [feed.id],
        }
    return schedule
