"""Recording slots and runs in the database, idempotently.

Opening a run for a slot that already has one returns the existing run, so firing the same
instant twice (a re-run, a retried task, a second beat) creates nothing new. The slot and run
rows and their events are written in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns.models import Run, RunTask, Slot
from campaigns.planner import SlotSpec, targets
from campaigns.workspace import Workspace
from config.models import record_event

UNFINISHED = ("pending", "running")


@dataclass(frozen=True)
class OpenedRun:
    run_id: int
    created: bool
    task_ids: list[int]


def open_run(
    session: Session,
    spec: SlotSpec,
    initiatives: list[str],
    *,
    out_dir: str,
    revision: str,
    now: datetime,
) -> OpenedRun:
    """The run of ``spec``: created with one task per initiative, or the one that exists."""
    existing = session.scalar(select(Run).where(Run.slot_key == spec.key))
    if existing is None:
        try:
            with session.begin_nested():
                session.add(
                    Slot(
                        key=spec.key,
                        campaign=spec.campaign,
                        deliverable=spec.deliverable,
                        folder=spec.folder,
                        due_at=spec.due_at,
                        item_id=spec.item_id,
                        fired_at=now,
                    )
                )
                session.flush()
                run = Run(
                    slot_key=spec.key,
                    status="running",
                    out_dir=out_dir,
                    revision=revision,
                    started_at=now,
                )
                session.add(run)
                session.flush()
                session.add_all(RunTask(run_id=run.id, initiative=slug) for slug in initiatives)
                record_event(
                    session,
                    "slot.fired",
                    f"slot.fired:{spec.key}",
                    {"slot": spec.key, "run_id": run.id, "initiatives": initiatives},
                    now,
                )
            created = True
        except IntegrityError:
            # Another process opened it between our look and our insert: use theirs.
            existing = session.scalar(select(Run).where(Run.slot_key == spec.key))
            assert existing is not None
            run, created = existing, False
    else:
        run, created = existing, False
    task_ids = list(
        session.scalars(select(RunTask.id).where(RunTask.run_id == run.id).order_by(RunTask.id))
    )
    return OpenedRun(run.id, created, task_ids)


def open_slot(
    session: Session, workspace: Workspace, spec: SlotSpec, *, out_dir: Path, now: datetime
) -> OpenedRun:
    """The run of ``spec`` for its campaign's targets, on this workspace revision."""
    slugs = [i.slug for i in targets(workspace, workspace.campaigns[spec.campaign])]
    return open_run(
        session, spec, slugs, out_dir=str(out_dir.resolve()), revision=workspace.revision, now=now
    )


def unfinished_tasks(session: Session, run_id: int) -> list[int]:
    return list(
        session.scalars(
            select(RunTask.id)
            .where(RunTask.run_id == run_id, RunTask.status.in_(UNFINISHED))
            .order_by(RunTask.id)
        )
    )


def finish_task(session: Session, task: RunTask, *, error: str | None, now: datetime) -> None:
    """Mark one initiative's share done or failed, and close the run when it was the last."""
    task.status = "failed" if error else "done"
    task.error = error
    task.finished_at = now
    session.flush()
    open_count = session.scalar(
        select(func.count())
        .select_from(RunTask)
        .where(RunTask.run_id == task.run_id, RunTask.status.in_(UNFINISHED))
    )
    if open_count == 0:
        run = session.get(Run, task.run_id)
        assert run is not None
        failed = session.scalar(
            select(func.count())
            .select_from(RunTask)
            .where(RunTask.run_id == task.run_id, RunTask.status == "failed")
        )
        run.status = "failed" if failed else "done"
        run.finished_at = now


def claim_task(session: Session, task_id: int, *, now: datetime, lease: timedelta) -> bool:
    """Take a share for this worker with one conditional UPDATE; False if someone else holds it.

    A share is free when pending, or running under a claim older than ``lease`` (its worker
    died). The claim commits before any work starts, so two workers never compose one share.
    """
    result = session.execute(
        update(RunTask)
        .where(
            RunTask.id == task_id,
            or_(
                RunTask.status == "pending",
                and_(RunTask.status == "running", RunTask.claimed_at < now - lease),
            ),
        )
        .values(status="running", claimed_at=now, attempts=RunTask.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def mark_sent(session: Session, task_ids: list[int], now: datetime) -> None:
    if task_ids:
        session.execute(
            update(RunTask)
            .where(RunTask.id.in_(task_ids))
            .values(sent_at=now)
            .execution_options(synchronize_session=False)
        )


def stale_tasks(
    session: Session, *, now: datetime, resend_after: timedelta, lease: timedelta
) -> list[int]:
    """Shares the database shows unfinished and unclaimed: sent long ago and never picked up
    (a broker lost its queue), or claimed by a worker whose lease ran out (it was killed)."""
    return list(
        session.scalars(
            select(RunTask.id)
            .where(
                or_(
                    and_(
                        RunTask.status == "pending",
                        or_(RunTask.sent_at.is_(None), RunTask.sent_at < now - resend_after),
                    ),
                    and_(RunTask.status == "running", RunTask.claimed_at < now - lease),
                )
            )
            .order_by(RunTask.id)
        )
    )


def reopen_failed(session: Session, run_id: int) -> list[int]:
    """Put a run's dead-lettered shares back to pending (``depesche retry``)."""
    run = session.get(Run, run_id)
    if run is None:
        raise LookupError(f"run {run_id} does not exist")
    failed = list(
        session.scalars(select(RunTask).where(RunTask.run_id == run_id, RunTask.status == "failed"))
    )
    for task in failed:
        task.status, task.error, task.claimed_at, task.finished_at = "pending", None, None, None
    if failed:
        run.status, run.finished_at = "running", None
    return [task.id for task in failed]


@dataclass(frozen=True)
class RunSummary:
    id: int
    slot: str
    status: str
    expected: int
    done: int
    failed: int
    started: datetime
    finished: datetime | None


def list_runs(session: Session, limit: int = 50) -> list[RunSummary]:
    """Newest runs first with their share counts (one share = one initiative's pieces)."""
    counts = (
        select(
            RunTask.run_id,
            func.count().label("expected"),
            func.sum(case((RunTask.status == "done", 1), else_=0)).label("done"),
            func.sum(case((RunTask.status == "failed", 1), else_=0)).label("failed"),
        )
        .group_by(RunTask.run_id)
        .subquery()
    )
    rows = session.execute(
        select(Run, counts.c.expected, counts.c.done, counts.c.failed)
        .outerjoin(counts, counts.c.run_id == Run.id)
        .order_by(Run.id.desc())
        .limit(limit)
    )
    return [
        RunSummary(
            run.id,
            run.slot_key,
            run.status,
            int(expected or 0),
            int(done or 0),
            int(failed or 0),
            run.started_at,
            run.finished_at,
        )
        for run, expected, done, failed in rows
    ]
