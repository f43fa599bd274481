"""``DatabaseScheduler``: Celery beat that fires the campaigns' schedules from the database.

``depesche beat`` runs ``app.Beat(scheduler="workers.scheduler:DatabaseScheduler")``; plain
Celery takes it as ``celery beat -S workers.scheduler:DatabaseScheduler``.

Why not Celery's own entries, and why not celery-redbeat:

- Celery's ``crontab`` evaluates the expression against a clock shifted into the campaign's
  zone and fires whatever its ``remaining_estimate`` says is due, so in autumn's repeated hour
  02:30 is due twice and in spring's gap it depends on when beat happens to wake; and an
  entry's state (``last_run_at``) lives in a local shelve file that a restarted container
  does not have. We fire from ``campaigns.triggers``, which is DST-correct by construction.
- celery-redbeat keeps entries in Redis with a lock so that one beat runs. That would move
  the schedule's truth into the broker, which our reliability story treats as losable (a
  Redis that lost its data must not lose or repeat slots), and its lock only keeps a second
  beat idle: it does not make a firing idempotent. Our database already is the source of
  truth and already has the idempotency key: a slot's key is unique, and opening the run of a
  slot that has one creates nothing. So the schedule's state (a watermark) sits beside the
  slots, in the same transaction as the runs a tick opens: either both are stored or
  neither, and a second beat started by mistake, ticking the same instants, opens nothing
  twice and sends nothing twice (only the beat whose insert created a run sends its shares).
  No extra dependency, and the same on SQLite and PostgreSQL.

A tick stays small: it decides the window since the watermark (``campaigns.scheduler``), opens
the runs of due slots, records missed ones, moves the watermark, commits, and only then sends
the new shares' ids (never inside a transaction that may roll back; if beat dies in between,
the sweeper sends the shares the database shows unsent). Nothing is parked as a broker ETA:
beat sleeps until the next slot is due and fires it then. Static interval entries from
``app.conf.beat_schedule`` (see ``workers.beat``) still run through Celery's own machinery.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from celery.beat import Scheduler
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from campaigns.models import Slot
from campaigns.planner import SlotSpec
from campaigns.runs import open_slot
from campaigns.scheduler import plan_tick
from campaigns.workspace import Workspace, load_workspace
from config.db import session_scope
from config.models import record_event
from config.settings import current_settings
from workers.schedule_models import MissedSlot, ScheduleState

log = logging.getLogger(__name__)

DEFAULT_SCHEDULE = "default"
Clock = Callable[[], datetime]
# Sends the ids of new shares to the workers: (database URL, share ids, now).
Sender = Callable[[str, list[int], datetime], None]


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def offset_clock(seconds: float) -> Clock:
    """The wall clock shifted by ``DEPESCHE_BEAT_CLOCK_OFFSET``: beat processes started together
    with one offset agree on the time, so a rehearsal (or a test) fires a real slot now."""
    if not seconds:
        return _wall_clock
    shift = timedelta(seconds=seconds)
    return lambda: datetime.now(UTC) + shift


def send_shares(database_url: str, task_ids: list[int], now: datetime) -> None:
    """The same path ``depesche run`` takes in distributed mode: chunks of ids to the broker."""
    from workers.runner import Fanout, dispatch

    fanout = Fanout.from_settings(current_settings())
    dispatch(database_url, task_ids, distributed=True, fanout=fanout, now=now)


def masked_interrupt(error: BaseException) -> BaseException | None:
    """The ``SystemExit`` or ``KeyboardInterrupt`` hidden behind ``error``, if any.

    Beat stops on SIGTERM by raising ``SystemExit`` from its signal handler, wherever the
    process happens to be. Arriving in the middle of a query, it can be replaced by an error
    the driver raises while cleaning up (psycopg: "can't change 'autocommit' now: connection in
    transaction status ACTIVE" from SQLAlchemy's pre-ping), which a tick would log and retry:
    beat would ignore the signal until it is killed. The interrupt survives in the chain.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if not isinstance(current, Exception):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


@dataclass(frozen=True)
class TickResult:
    fired: list[str]
    """Keys of the slots whose run this tick created."""
    missed: list[str]
    """Keys of the slots this tick recorded as missed."""
    task_ids: list[int]
    """The shares of the runs this tick created: the only ids it sends."""
    checked_until: datetime
    wake_at: datetime | None


def _record_missed(session: Session, spec: SlotSpec, grace: timedelta, now: datetime) -> bool:
    """Record a slot as missed once; a slot that fired after all (``depesche run``) is not."""
    if session.get(Slot, spec.key) is not None or session.get(MissedSlot, spec.key) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(
                MissedSlot(
                    slot_key=spec.key,
                    campaign=spec.campaign,
                    deliverable=spec.deliverable,
                    folder=spec.folder,
                    due_at=spec.due_at,
                    recorded_at=now,
                )
            )
            record_event(
                session,
                "slot.missed",
                f"slot.missed:{spec.key}",
                {
                    "slot": spec.key,
                    "campaign": spec.campaign,
                    "deliverable": spec.deliverable,
                    "due_at": spec.due_at.isoformat(),
                    "grace_seconds": grace.total_seconds(),
                },
                now,
            )
            session.flush()
    except IntegrityError:
        return False  # the other beat recorded it first
    return True


def _advance(
    session: Session,
    state: ScheduleState | None,
    name: str,
    checked_until: datetime,
    now: datetime,
    ticked_by: str,
) -> None:
    if state is None:
        try:
            with session.begin_nested():
                session.add(
                    ScheduleState(
                        name=name, checked_until=checked_until, ticked_at=now, ticked_by=ticked_by
                    )
                )
                session.flush()
            return
        except IntegrityError:
            state = session.scalar(
                select(ScheduleState).where(ScheduleState.name == name).with_for_update()
            )
            assert state is not None
    if checked_until > state.checked_until:
        state.checked_until, state.ticked_at, state.ticked_by = checked_until, now, ticked_by


def run_tick(
    database_url: str,
    workspace: Workspace,
    now: datetime,
    *,
    grace: timedelta,
    out_dir: Path,
    name: str = DEFAULT_SCHEDULE,
    ticked_by: str = "",
) -> TickResult:
    """One tick's database work, in one transaction: open due runs, record misses, move the
    watermark. The state row is locked (``FOR UPDATE`` on PostgreSQL), so a second beat waits
    and then finds the window already decided; on SQLite the writer lock serialises them."""
    with session_scope(database_url) as session:
        state = session.scalar(
            select(ScheduleState).where(ScheduleState.name == name).with_for_update()
        )
        plan = plan_tick(
            workspace.campaigns,
            state.checked_until if state is not None else None,
            now,
            grace=grace,
        )
        fired: list[str] = []
        task_ids: list[int] = []
        for spec in plan.due:
            opened = open_slot(session, workspace, spec, out_dir=out_dir, now=now)
            if opened.created:
                fired.append(spec.key)
                task_ids.extend(opened.task_ids)
            else:  # a second beat, or `depesche run` for the same instant, was first
                log.info("slot %s: its run exists already, sending nothing", spec.key)
        missed = [spec.key for spec in plan.missed if _record_missed(session, spec, grace, now)]
        _advance(session, state, name, plan.checked_until, now, ticked_by)
    for key in fired:
        log.info("slot %s fired", key)
    for key in missed:
        log.warning("slot %s missed: due more than %s ago", key, grace)
    return TickResult(fired, missed, task_ids, plan.checked_until, plan.wake_at)


class DatabaseScheduler(Scheduler):  # type: ignore[misc]
    """Celery beat scheduler whose campaign slots and state live in the database.

    Everything it needs can be injected (tests drive it with a fake clock through whole
    clock-change weekends); by default it reads the settings ``depesche beat`` configured.
    """

    #: A tick that failed (database away or busy) is tried again this soon, in seconds.
    retry_after = 5.0

    def __init__(
        self,
        app: Any,
        *args: Any,
        clock: Clock | None = None,
        database_url: str | None = None,
        workspace: Workspace | None = None,
        grace: timedelta | None = None,
        out_dir: Path | None = None,
        send: Sender | None = None,
        schedule_name: str = DEFAULT_SCHEDULE,
        **kwargs: Any,
    ) -> None:
        settings = current_settings()
        self.clock_offset = 0.0 if clock is not None else settings.beat_clock_offset
        self.clock: Clock = clock or offset_clock(self.clock_offset)
        self.database_url = database_url or settings.resolved_database_url
        self.workspace_root = settings.workspace
        self._workspace = workspace
        self.grace = grace if grace is not None else timedelta(seconds=settings.schedule_grace)
        self.out_dir = out_dir or settings.resolved_out_dir
        self.send: Sender = send or send_shares
        self.schedule_name = schedule_name
        self.ticked_by = f"{socket.gethostname()}:{os.getpid()}"
        self.last_tick: TickResult | None = None
        super().__init__(app, *args, **kwargs)

    @property
    def workspace(self) -> Workspace:
        """Loaded on the first tick (not when beat builds a lazy instance for its banner)."""
        if self._workspace is None:
            self._workspace = load_workspace(self.workspace_root)
        return self._workspace

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Celery's static entries, then the campaign slots; sleep until the sooner is due."""
        entries_wait = float(super().tick(*args, **kwargs))
        return min(entries_wait, self.tick_slots())

    def tick_slots(self) -> float:
        """Fire due slots, record missed ones; the seconds until the next slot is due."""
        now = self.clock()
        try:
            result = run_tick(
                self.database_url,
                self.workspace,
                now,
                grace=self.grace,
                out_dir=self.out_dir,
                name=self.schedule_name,
                ticked_by=self.ticked_by,
            )
        except SQLAlchemyError as exc:
            if (interrupt := masked_interrupt(exc)) is not None:
                raise interrupt from None
            # Nothing was committed; the same window is decided on the next try. A database that
            # is away needs no traceback every few seconds; anything else does.
            log.error(
                "beat: schedule tick failed, retrying in %ss: %s",
                self.retry_after,
                exc,
                exc_info=not isinstance(exc, OperationalError),
            )
            return min(self.retry_after, float(self.max_interval))
        self.last_tick = result
        if result.task_ids:
            try:
                self.send(self.database_url, result.task_ids, now)
            except Exception as exc:  # the runs are committed: the sweeper sends what stays unsent
                if (interrupt := masked_interrupt(exc)) is not None:
                    raise interrupt from None
                log.exception("beat: sending %d shares failed", len(result.task_ids))
        if result.wake_at is None:
            return float(self.max_interval)
        wait = (result.wake_at - now).total_seconds()
        return max(0.0, min(wait, float(self.max_interval)))

    @property
    def info(self) -> str:
        url = make_url(self.database_url).render_as_string(hide_password=True)
        shifted = f", clock shifted by {self.clock_offset:+.0f}s" if self.clock_offset else ""
        return (
            f"    . slots -> {url} (schedule {self.schedule_name!r}, grace {self.grace}{shifted})"
        )
