"""Celery tasks: thin wrappers that take ids, call the domain, and let Celery retry.

The wall clock is read here, at the edge; everything below takes it as an argument.
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from celery.signals import worker_init, worker_process_init
from sqlalchemy.exc import OperationalError

from config.celery_app import app
from config.db import dispose_engines
from config.settings import current_settings
from workers.execution import (
    WorkspaceRevisionMismatch,
    dead_letter,
    execute_run_task,
    workspace_for,
)

log = logging.getLogger(__name__)


@worker_process_init.connect
def _fresh_connections(**_: Any) -> None:
    """A forked worker child must not reuse the parent's database connections."""
    dispose_engines()


@worker_init.connect
def _load_workspace(**_: Any) -> None:
    """Parse the workspace once in the worker's main process, before it forks its children.

    Every child inherits it instead of parsing it on its first share, which for 1,000
    initiatives takes longer than a hundred shares (bench/distributed.py). ``workspace_for``
    still checks the revision on disk for every share and reloads when the files changed. A
    workspace that does not load now is left to the shares, which record why.
    """
    try:
        workspace_for(current_settings().workspace)
    except Exception:
        log.exception("the workspace did not load at worker start; each share tries again")


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


# A feed whose host another worker is fetching from comes back after a short, jittered pause,
# at most this often; then the next beat tick brings it again.
HOST_BUSY_RETRIES = 60


@app.task(name="depesche.fetch_feed", bind=True, acks_late=True, max_retries=HOST_BUSY_RETRIES)
def fetch_feed(self: Any, feed_id: str) -> dict[str, Any]:
    """Fetch one feed (beat sends one entry per feed, at the feed's own interval).

    One request at a time per host across all workers (a lease in Redis); a busy host sends the
    task back to the queue for a moment instead of keeping a worker slot waiting.
    """
    from content.feeds.leases import HostBusy, leases_for
    from content.ingest import ingest_feed
    from workers.execution import workspace_for

    settings = current_settings()
    try:
        outcome = ingest_feed(
            settings.resolved_database_url,
            workspace_for(settings.workspace),
            feed_id,
            now=datetime.now(UTC),
            leases=leases_for(settings.broker_url),
        )
    except HostBusy as busy:
        if self.request.retries >= HOST_BUSY_RETRIES:
            return {"feed": feed_id, "status": "busy", "new": 0, "error": str(busy)}
        raise self.retry(countdown=random.uniform(0.5, 2.5)) from busy
    if outcome.new:  # committed with their events: hand those to the handlers right away
        from workers.outbox import dispatch_now

        dispatch_now(settings, now=datetime.now(UTC))
    return {
        "feed": feed_id,
        "status": outcome.status,
        "new": len(outcome.new),
        "error": outcome.error,
    }


@app.task(name="depesche.release_deliveries", acks_late=True)
def release_deliveries() -> dict[str, int]:
    """Beat's delivery tick: route approved pieces, send due deliveries (workers.delivery)."""
    from dataclasses import asdict

    from workers.delivery_runtime import release_now

    return asdict(release_now(current_settings(), clock=lambda: datetime.now(UTC)))


@app.task(name="depesche.purge_retention", acks_late=True)
def purge_retention() -> dict[str, int]:
    """Beat's daily retention tick: stale sign-ups and old delivery records (workers.gdpr)."""
    from workers.gdpr import purge_expired

    return purge_expired(current_settings(), now=datetime.now(UTC))


@app.task(name="depesche.mark_stale", acks_late=True)
def mark_stale() -> int:
    """Beat's stale check: pieces whose campaign changed since composition become ``stale``."""
    from config.db import session_scope
    from content.review import mark_stale as mark

    settings = current_settings()
    with session_scope(settings.resolved_database_url) as session:
        return mark(session, workspace_for(settings.workspace), datetime.now(UTC))
