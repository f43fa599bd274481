"""The outbox dispatcher: hands recorded events to their handlers, at least once.

Events are written in the same transaction as the change they report (``config.models``); this
module delivers them afterwards. It reads undispatched events in id order, in small batches,
publishes each one's id (``depesche.handle_event``), and only then marks the batch dispatched:
publish-then-mark. A crash between the two publishes the batch again on the next pass, which is
harmless because handlers are idempotent (everything they cause is keyed); mark-then-publish
would lose the event instead.

Events nobody subscribes to (``slot.fired``, ``piece.drafted`` today) are marked without being
published: they stay in the table as the audit trail, and no broker message is spent on them. A
handler added later reacts to new events, not to history.

On PostgreSQL a batch is taken with ``FOR UPDATE SKIP LOCKED`` and held while it is published,
so two dispatchers (beat's tick and an ingest's kick) split the backlog instead of both
publishing it. SQLite has no row locks, and an open transaction there holds the write lock of
the whole database, so the batch is read, published outside any transaction, then marked; a
double publish there is a repeat the handlers absorb.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from config.db import get_engine, session_scope
from config.models import Event
from config.settings import Settings

log = logging.getLogger(__name__)

BATCH_SIZE = 100

Publish = Callable[[int], None]


@dataclass(frozen=True)
class DispatchReport:
    """``published``: events handed to handlers; ``skipped``: events no handler listens to."""

    published: int = 0
    skipped: int = 0
    failed: list[int] = field(default_factory=list)


def dispatch_pending(
    database_url: str,
    publish: Publish,
    *,
    subscribed: Collection[str],
    now: datetime,
    batch_size: int = BATCH_SIZE,
) -> DispatchReport:
    """Publish every event pending now, then mark it; returns what was done.

    Only events that were pending when the pass began are taken, so handlers that write new
    events (a run's ``slot.fired``) cannot keep one pass going forever: the next pass takes them.
    """
    engine = get_engine(database_url)
    # PostgreSQL: hold the batch's row locks while publishing, so a second dispatcher skips it.
    # SQLite: no row locks, and an open transaction holds the database's write lock (handlers
    # running in this process would wait for it): read, publish, then mark in a new transaction.
    exclusive = engine.dialect.name == "postgresql"
    with session_scope(database_url) as session:
        last = session.scalar(select(func.max(Event.id)).where(Event.dispatched_at.is_(None)))
    if last is None:
        return DispatchReport()
    published = skipped = 0
    while True:
        with session_scope(database_url) as session:
            rows = session.execute(
                select(Event.id, Event.type)
                .where(Event.dispatched_at.is_(None), Event.id <= last)
                .order_by(Event.id)
                .limit(batch_size)
                .with_for_update(skip_locked=True)
            )
            batch = [(event_id, type_) for event_id, type_ in rows]
            if batch and exclusive:
                published, skipped = _publish(batch, publish, subscribed, published, skipped)
                _mark(session, [event_id for event_id, _ in batch], now)
        if not batch:
            break
        if not exclusive:
            published, skipped = _publish(batch, publish, subscribed, published, skipped)
            with session_scope(database_url) as session:
                _mark(session, [event_id for event_id, _ in batch], now)
    return DispatchReport(published, skipped)


def _publish(
    batch: Sequence[tuple[int, str]],
    publish: Publish,
    subscribed: Collection[str],
    published: int,
    skipped: int,
) -> tuple[int, int]:
    for event_id, type_ in batch:
        if type_ in subscribed:
            publish(event_id)
            published += 1
        else:
            skipped += 1
    return published, skipped


def _mark(session: Session, event_ids: list[int], now: datetime) -> None:
    session.execute(
        update(Event)
        .where(Event.id.in_(event_ids))
        .values(dispatched_at=now)
        .execution_options(synchronize_session=False)
    )


def publish_to_broker(event_id: int) -> None:
    """Send one event's id to the workers; raises if the broker is unreachable (nothing marked)."""
    from workers.tasks import handle_event

    handle_event.apply_async(args=[event_id])


class InProcess:
    """Run each event's handlers here and now (embedded mode), through the same task.

    A failing handler is logged and remembered, and the event still counts as dispatched, as it
    does when a worker's task fails: one broken event must not hold back every later one.
    """

    def __init__(self) -> None:
        self.failed: list[int] = []

    def __call__(self, event_id: int) -> None:
        from workers.tasks import handle_event

        result = handle_event.apply(args=[event_id])
        if not result.successful():
            log.error("handling event %s failed: %r", event_id, result.result)
            self.failed.append(event_id)


def dispatch_now(settings: Settings, *, now: datetime) -> DispatchReport:
    """Hand every pending event to its handlers: to the workers when there is a broker, else
    in this process. ``depesche ingest`` calls this right after its transactions committed."""
    from workers.handlers import registry

    url = settings.resolved_database_url
    if settings.broker_url is not None:
        return dispatch_pending(url, publish_to_broker, subscribed=registry.types(), now=now)
    in_process = InProcess()
    report = dispatch_pending(url, in_process, subscribed=registry.types(), now=now)
    return DispatchReport(report.published, report.skipped, in_process.failed)
