"""Celery tasks: thin wrappers that take ids, call the domain, and let Celery retry.

The wall clock is read here, at the edge; everything below takes it as an argument.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from celery.signals import worker_process_init

from config.celery_app import app
from config.db import dispose_engines
from config.settings import current_settings
from workers.execution import execute_run_task


@worker_process_init.connect
def _fresh_connections(**_: Any) -> None:
    """A forked worker child must not reuse the parent's database connections."""
    dispose_engines()


@app.task(name="depesche.assemble", acks_late=True, max_retries=5)
def assemble_for_initiative(run_task_id: int) -> dict[str, Any]:
    settings = current_settings()
    outcome = execute_run_task(
        settings.resolved_database_url,
        settings.workspace,
        run_task_id,
        now=datetime.now(UTC),
    )
    return {"status": outcome.status, "pieces": outcome.pieces, "error": outcome.error}


@app.task(name="depesche.fire_due", acks_late=True)
def fire_due(campaign: str | None = None) -> int:
    """Open the runs of every slot due this minute and send their shares to the workers."""
    from workers.execution import workspace_for
    from workers.runner import open_and_dispatch

    settings = current_settings()
    workspace = workspace_for(settings.workspace, revision="")
    return open_and_dispatch(
        settings.resolved_database_url,
        workspace,
        datetime.now(UTC),
        out_dir=settings.resolved_out_dir,
        campaign=campaign,
    )
