"""The beat schedule, derived from the workspace's triggers (a first version).

Cron triggers become crontab entries evaluated in their campaign's timezone; milestones, RRULEs
and event triggers are picked up by a tick every 30 seconds. Every entry calls the same
idempotent ``fire_due`` task, so an entry that fires twice for one minute creates nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from celery.schedules import crontab

from campaigns.workspace import Workspace

TICK = timedelta(seconds=30)


def _now_in(zone: str) -> Any:
    def now() -> datetime:
        return datetime.now(ZoneInfo(zone))

    return now


def beat_schedule(workspace: Workspace) -> dict[str, dict[str, Any]]:
    schedule: dict[str, dict[str, Any]] = {}
    needs_tick = False
    for name, campaign in workspace.campaigns.items():
        for d in campaign.deliverables:
            expression = d.trigger.schedule
            if expression is not None and not expression.upper().startswith("RRULE:"):
                minute, hour, day_of_month, month, day_of_week = expression.split()
                schedule[f"{name}/{d.id}"] = {
                    "task": "depesche.fire_due",
                    "schedule": crontab(
                        minute=minute,
                        hour=hour,
                        day_of_month=day_of_month,
                        month_of_year=month,
                        day_of_week=day_of_week,
                        nowfun=_now_in(campaign.timezone),
                    ),
                    "kwargs": {"campaign": name},
                }
            else:
                needs_tick = True
    if needs_tick:
        schedule["tick"] = {"task": "depesche.fire_due", "schedule": TICK, "kwargs": {}}
    return schedule
