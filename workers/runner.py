"""``depesche run --at``: fire every slot due at an instant and see its work through.

One code path for both ways to run: the slots and their runs are opened in the database, then
each unfinished share is handed to the same Celery task, executed in this process (embedded
default) or sent through the broker to workers, whose progress is read back from the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from celery import group
from kombu.exceptions import OperationalError
from sqlalchemy import func, select

from campaigns.models import Run, RunTask
from campaigns.planner import SlotSpec, due_slots
from campaigns.runs import UNFINISHED, mark_sent, open_slot, stale_tasks, unfinished_tasks
from campaigns.workspace import Workspace
from config.db import session_scope
from config.models import Event
from config.settings import Settings
from content.models import Piece
from workers.execution import remember_workspace

POLL_SECONDS = 0.2
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlotReport:
    slot: SlotSpec
    run_id: int
    created: bool
    status: str
    pieces: list[tuple[str, str, str | None]]  # (initiative, kind, platform)
    errors: list[str]


def published_payloads(database_url: str) -> list[dict[str, object]]:
    with session_scope(database_url) as session:
        return [
            e.payload for e in session.scalars(select(Event).where(Event.type == "item.published"))
        ]


def open_due_runs(
    database_url: str,
    workspace: Workspace,
    at: datetime,
    *,
    out_dir: Path,
    campaign: str | None,
    now: datetime,
    payloads: Iterable[dict[str, object]] | None = None,
) -> list[tuple[SlotSpec, int, bool, list[int]]]:
    if payloads is None:
        payloads = published_payloads(database_url)
    specs = due_slots(workspace, at, payloads, campaign)
    opened = []
    with session_scope(database_url) as session:
        for spec in specs:
            run = open_slot(session, workspace, spec, out_dir=out_dir, now=now)
            opened.append((spec, run.run_id, run.created, unfinished_tasks(session, run.run_id)))
    return opened


@dataclass(frozen=True)
class Fanout:
    """How shares travel: chunk size per broker message, and the sweeper's timings (seconds)."""

    chunk_size: int = 25
    sweep_interval: float = 60.0
    resend_after: float = 60.0
    lease: float = 300.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Fanout:
        return cls(
            settings.chunk_size,
            settings.sweep_interval,
            settings.resend_after,
            settings.share_lease,
        )


DEFAULT_FANOUT = Fanout()


def _unfinished_count(database_url: str, run_ids: list[int]) -> int:
    with session_scope(database_url) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(RunTask)
                .where(RunTask.run_id.in_(run_ids), RunTask.status.in_(UNFINISHED))
            )
            or 0
        )


def _wait_until_finished(
    database_url: str, run_ids: list[int], timeout: float, fanout: Fanout
) -> None:
    """Poll the database (the source of truth) and sweep now and then while waiting."""
    deadline = time.monotonic() + timeout
    next_sweep = time.monotonic() + fanout.sweep_interval
    while (open_count := _unfinished_count(database_url, run_ids)) > 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{open_count} shares of runs {run_ids} unfinished after {timeout}s")
        if time.monotonic() >= next_sweep:
            sweep_stale(database_url, fanout, now=datetime.now(UTC))
            next_sweep = time.monotonic() + fanout.sweep_interval
        time.sleep(POLL_SECONDS)


def dispatch(
    database_url: str,
    task_ids: list[int],
    *,
    distributed: bool,
    fanout: Fanout = DEFAULT_FANOUT,
    now: datetime | None = None,
) -> None:
    """Run each share in this process, or send chunks of share ids to the workers.

    A chunk is marked as sent before it is published: if the broker is away, the sweeper sends
    it again once ``resend_after`` has passed, so a failed publish loses nothing.
    """
    from workers.tasks import assemble_batch, assemble_for_initiative

    if not distributed:
        for task_id in task_ids:
            # Not ``throw=True``: that raises a retry instead of running it; retries run eagerly.
            result = assemble_for_initiative.apply(args=[task_id])
            if result.failed():
                raise result.result
        return
    sent_at = now or datetime.now(UTC)
    size = fanout.chunk_size
    chunks = [task_ids[i : i + size] for i in range(0, len(task_ids), size)]
    with session_scope(database_url) as session:
        mark_sent(session, task_ids, sent_at)
    try:
        group(assemble_batch.s(chunk) for chunk in chunks).apply_async()
    except OperationalError as exc:
        log.warning("broker unavailable, the sweeper will send %d shares: %s", len(task_ids), exc)


def sweep_stale(database_url: str, fanout: Fanout, *, now: datetime) -> int:
    """Send again every share the database shows unfinished and unclaimed."""
    with session_scope(database_url) as session:
        stale = stale_tasks(
            session,
            now=now,
            resend_after=timedelta(seconds=fanout.resend_after),
            lease=timedelta(seconds=fanout.lease),
        )
    if stale:
        log.info("sweeper re-sends %d shares", len(stale))
        dispatch(database_url, stale, distributed=True, fanout=fanout, now=now)
    return len(stale)


def report(
    database_url: str, opened: list[tuple[SlotSpec, int, bool, list[int]]]
) -> list[SlotReport]:
    reports = []
    with session_scope(database_url) as session:
        for spec, run_id, created, _ in opened:
            run = session.get(Run, run_id)
            assert run is not None
            pieces = [
                (p.initiative, p.kind, p.platform)
                for p in session.scalars(
                    select(Piece).where(Piece.slot_key == spec.key).order_by(Piece.id)
                )
            ]
            errors = [
                f"{t.initiative}: {t.error}"
                for t in session.scalars(
                    select(RunTask).where(RunTask.run_id == run_id, RunTask.status == "failed")
                )
            ]
            reports.append(SlotReport(spec, run_id, created, run.status, pieces, errors))
    return reports


def run_at(
    database_url: str,
    workspace: Workspace,
    at: datetime,
    *,
    out_dir: Path,
    now: datetime,
    campaign: str | None = None,
    distributed: bool = False,
    timeout: float = 600.0,
    payloads: Iterable[dict[str, object]] | None = None,
    fanout: Fanout = DEFAULT_FANOUT,
) -> list[SlotReport]:
    """Fire the slots due at ``at``; return when every share is finished (or raise on timeout)."""
    opened = open_due_runs(
        database_url,
        workspace,
        at,
        out_dir=out_dir,
        campaign=campaign,
        now=now,
        payloads=payloads,
    )
    task_ids = [task_id for *_, ids in opened for task_id in ids]
    if not distributed:
        remember_workspace(workspace)  # the shares run here: parsed once is enough
    dispatch(database_url, task_ids, distributed=distributed, fanout=fanout, now=now)
    if distributed and opened:
        _wait_until_finished(database_url, [run_id for _, run_id, _, _ in opened], timeout, fanout)
    return report(database_url, opened)
