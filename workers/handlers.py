"""Who reacts to which event: a small registry of handlers, and the reaction to new items.

Handlers subscribe by event type and, optionally, a filter on the payload. The dispatcher
(:mod:`workers.outbox`) hands them events at least once, so a handler must be safe to run twice
for one event: everything it causes is keyed (a slot by its key, a piece by its key) and guarded
by a unique constraint, so a repeat finds what the first run made and makes nothing new.

Handlers get an id and load fresh state; they never receive ORM objects across a boundary.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from campaigns.planner import ITEM_PUBLISHED, SlotSpec, event_slots
from campaigns.runs import open_slot
from campaigns.workspace import Workspace
from config.db import session_scope
from config.models import Event
from config.settings import Settings
from workers.execution import workspace_for
from workers.runner import Fanout, dispatch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventContext:
    """Where a handler works: database, workspace, output, and how shares travel."""

    database_url: str
    workspace_root: Path
    out_dir: Path
    distributed: bool
    now: datetime
    fanout: Fanout = field(default_factory=Fanout)

    @classmethod
    def from_settings(cls, settings: Settings, *, now: datetime) -> EventContext:
        return cls(
            database_url=settings.resolved_database_url,
            workspace_root=settings.workspace,
            out_dir=settings.resolved_out_dir,
            distributed=settings.broker_url is not None,
            now=now,
            fanout=Fanout.from_settings(settings),
        )


@dataclass(frozen=True)
class EventRecord:
    """An event as plain data, loaded fresh by the handling task."""

    id: int
    type: str
    key: str
    payload: Mapping[str, Any]
    occurred_at: datetime


Handler = Callable[[EventContext, EventRecord], None]
PayloadFilter = Callable[[Mapping[str, Any]], bool]
H = TypeVar("H", bound=Handler)


@dataclass(frozen=True)
class Subscription:
    type: str
    handler: Handler
    where: PayloadFilter | None = None

    @property
    def name(self) -> str:
        return f"{self.handler.__module__}.{self.handler.__qualname__}"

    def accepts(self, event: EventRecord) -> bool:
        return event.type == self.type and (self.where is None or self.where(event.payload))


@dataclass
class Registry:
    """Subscriptions in the order they were made (tests build their own registry)."""

    subscriptions: list[Subscription] = field(default_factory=list)

    def subscribe(self, type_: str, *, where: PayloadFilter | None = None) -> Callable[[H], H]:
        """Decorator: call the handler for events of ``type_`` whose payload passes ``where``."""

        def register(handler: H) -> H:
            self.subscriptions.append(Subscription(type_, handler, where))
            return handler

        return register

    def types(self) -> frozenset[str]:
        """Event types somebody listens to: the dispatcher publishes only these."""
        return frozenset(s.type for s in self.subscriptions)

    def matching(self, event: EventRecord) -> list[Subscription]:
        return [s for s in self.subscriptions if s.accepts(event)]


registry = Registry()
subscribe = registry.subscribe


def load_event(database_url: str, event_id: int) -> EventRecord | None:
    with session_scope(database_url) as session:
        event = session.get(Event, event_id)
        if event is None:
            return None
        return EventRecord(event.id, event.type, event.key, event.payload, event.occurred_at)


def handle(context: EventContext, event_id: int, *, using: Registry = registry) -> list[str]:
    """Run every subscription that accepts the event; returns the names of the handlers run.

    An event that no longer exists is nothing to do (it cannot happen in normal operation, since
    events are never deleted, but a task must not crash on a stale id).
    """
    event = load_event(context.database_url, event_id)
    if event is None:
        log.warning("event %s does not exist; nothing to handle", event_id)
        return []
    ran = []
    for subscription in using.matching(event):
        subscription.handler(context, event)
        ran.append(subscription.name)
    return ran


def current_workspace(root: Path) -> Workspace:
    """The workspace as it is on disk now, reloaded only when a file that shapes output changed."""
    return workspace_for(root)


def open_event_runs(
    context: EventContext, workspace: Workspace, specs: list[SlotSpec]
) -> list[int]:
    """Open (or find) the run of each slot; returns the shares of the runs opened just now.

    A run that already existed was opened by an earlier delivery of the same event, which sent
    its shares; if that delivery died before sending, the sweeper sends them (the database shows
    them pending and never sent), so a repeat sends nothing and floods no broker.
    """
    shares: list[int] = []
    with session_scope(context.database_url) as session:
        for spec in specs:
            run = open_slot(session, workspace, spec, out_dir=context.out_dir, now=context.now)
            if run.created:
                shares.extend(run.task_ids)
    return shares


@subscribe(ITEM_PUBLISHED)
def fire_event_triggers(context: EventContext, event: EventRecord) -> None:
    """Open the event slots of every deliverable ``on: item.published`` whose filter matches.

    The window is measured back from the instant the item was recorded, so a feed's old backlog
    found by a first fetch does not flood the channels.
    """
    workspace = current_workspace(context.workspace_root)
    specs = event_slots(workspace, event.payload, event.occurred_at)
    if not specs:
        return
    shares = open_event_runs(context, workspace, specs)
    log.info("event %s opened %d slots, %d shares", event.id, len(specs), len(shares))
    dispatch(
        context.database_url,
        shares,
        distributed=context.distributed,
        fanout=context.fanout,
        now=context.now,
    )


# Handlers that live beside their domain register on import (kept last: they import this module).
import workers.delivery_runtime  # noqa: E402, F401  (piece.approved -> deliveries)
from workers import review_mail as _review_mail  # noqa: E402, F401  (review mails)
