"""Recording slots and runs in the database, idempotently.

Opening a run for a slot that already has one returns the existing run, so firing the same
instant twice (a re-run, a retried task, a second beat) creates nothing new. The slot and run
rows and their events are written in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns.models import Run, RunTask, Slot
from campaigns.planner import SlotSpec
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
