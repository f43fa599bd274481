"""Celery tasks: thin wrappers that take ids, call the domain, and let Celery retry.

The wall clock is read here, at the edge; everything below takes it as an argument.
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from celery.signals import worker_process_init
from sqlalchemy.exc import OperationalError

from config.celery_app import app
from config.db import dispose_engines
from config.settings import current_settings
from workers.execution import WorkspaceRevisionMismatch, dead_letter, execute_run_task

log = logging.getLogger(__name__)


@worker_process_init.connect
def _fresh_connections(**_: Any) -> None:
    """A forked worker child must not reuse the parent's database connections."""
    dispose_engines()


# Errors worth another try: the database was busy or away, the output volume hiccuped, this
# worker still holds another revision of the workspace than the run (a redeploy is under way).
TRANSIENT: tuple[type[BaseException], ...] = (
    OperationalError,
    OSError,
    WorkspaceRevisionMismatch,
)
MAX_RETRIES = 5


def _backoff(retries: int) -> float:
    """Exponential backoff with full jitter: 2, 4, 8 … seconds (capped), spread at random."""
    return random.uniform(0, min(300.0, 2.0 ** (retries + 1)))


def _run_share(run_task_id: int) -> dict[str, Any]:
    settings = current_settings()
    outcome = execute_run_task(
        settings.resolved_database_url,
        settings.workspace,
        run_task_id,
        now=datetime.now(UTC),
        lease=timedelta(seconds=settings.share_lease),
    )
    return {"status": outcome.status, "pieces": outcome.pieces, "error": outcome.error}


def _run_shares(task: Any, run_task_ids: list[int], single: bool) -> list[dict[str, Any]]:
    """Run shares in order; those that hit a transient error are retried, then dead-lettered."""
    results, again = [], []
    for run_task_id in run_task_ids:
        try:
            results.append(_run_share(run_task_id))
        except TRANSIENT as exc:
            log.warning("share %s: transient error, will retry: %s", run_task_id, exc)
            again.append((run_task_id, exc))
    if not again:
        return results
    if task.request.retries >= MAX_RETRIES:
        settings = current_settings()
        for run_task_id, error in again:
            dead_letter(
                settings.resolved_database_url,
                run_task_id,
                f"failed after {MAX_RETRIES} retries: {type(error).__name__}: {error}",
                now=datetime.now(UTC),
            )
        return results
    ids = [run_task_id for run_task_id, _ in again]
    raise task.retry(args=ids if single else [ids], countdown=_backoff(task.request.retries))


@app.task(name="depesche.assemble", bind=True, acks_late=True, max_retries=MAX_RETRIES)
def assemble_for_initiative(self: Any, run_task_id: int) -> dict[str, Any]:
    """One initiative's share of a run."""
    results = _run_shares(self, [run_task_id], single=True)
    return results[0] if results else {"status": "failed", "pieces": 0, "error": "dead letter"}


@app.task(name="depesche.assemble_batch", bind=True, acks_late=True, max_retries=MAX_RETRIES)
def assemble_batch(self: Any, run_task_ids: list[int]) -> list[dict[str, Any]]:
    """A chunk of shares in one broker message, so a large fan-out stays a few messages."""
    return _run_shares(self, run_task_ids, single=False)


@app.task(name="depesche.sweep", acks_late=True)
def sweep() -> int:
    """Re-send shares the database shows unfinished and unclaimed (see ``workers.runner``)."""
    from workers.runner import Fanout, sweep_stale

    settings = current_settings()
    return sweep_stale(
        settings.resolved_database_url, Fanout.from_settings(settings), now=datetime.now(UTC)
    )


@app.task(
    name="depesche.handle_event",
    acks_late=True,
    autoretry_for=TRANSIENT,
    retry_backoff=True,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def handle_event(event_id: int) -> list[str]:
    """Run the handlers subscribed to one event; safe to run twice (their effects are keyed)."""
    from workers.handlers import EventContext, handle

    context = EventContext.from_settings(current_settings(), now=datetime.now(UTC))
    return handle(context, event_id)


@app.task(name="depesche.dispatch_events", acks_late=True)
def dispatch_events() -> int:
    """Beat's outbox tick: publish every pending event to ``handle_event`` (see workers.outbox)."""
    from workers.outbox import dispatch_now

    return dispatch_now(current_settings(), now=datetime.now(UTC)).published


@app.task(name="depesche.fetch_feed", acks_late=True)
def fetch_feed(feed_id: str) -> dict[str, Any]:
    """Fetch one feed (beat sends one entry per feed, at the feed's own interval)."""
    from content.ingest import ingest_feed
    from workers.execution import workspace_for

    settings = current_settings()
    outcome = ingest_feed(
        settings.resolved_database_url,
        workspace_for(settings.workspace),
        feed_id,
        now=datetime.now(UTC),
    )
    if outcome.new:  # committed with their events: hand those to the handlers right away
        from workers.outbox import dispatch_now

        dispatch_now(settings, now=datetime.now(UTC))
    return {
        "feed": feed_id,
        "status": outcome.status,
        "new": len(outcome.new),
        "error": outcome.error,
    }
