"""``depesche run --at``: fire every slot due at an instant and see its work through.

One code path for both ways to run: the slots and their runs are opened in the database, then
each unfinished share is handed to the same Celery task, executed in this process (embedded
default) or sent through the broker to workers, whose progress is read back from the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from campaigns.models import Run, RunTask
from campaigns.planner import SlotSpec, due_slots, targets
from campaigns.runs import open_run, unfinished_tasks
from campaigns.workspace import Workspace
from config.db import session_scope
from config.models import Event
from content.models import Piece

POLL_SECONDS = 0.2


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
            slugs = [i.slug for i in targets(workspace, workspace.campaigns[spec.campaign])]
            run = open_run(
                session,
                spec,
                slugs,
                out_dir=str(out_dir.resolve()),
                revision=workspace.revision,
                now=now,
            )
            opened.append((spec, run.run_id, run.created, unfinished_tasks(session, run.run_id)))
    return opened


def _wait_until_finished(database_url: str, run_ids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with session_scope(database_url) as session:
            open_count = len(
                list(
                    session.scalars(
                        select(RunTask.id).where(
                            RunTask.run_id.in_(run_ids),
                            RunTask.status.in_(("pending", "running")),
                        )
                    )
                )
            )
        if open_count == 0:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{open_count} shares of runs {run_ids} unfinished after {timeout}s")
        time.sleep(POLL_SECONDS)


def dispatch(task_ids: list[int], *, distributed: bool) -> None:
    """Run each share in this process, or send it to the workers (ids only, never objects)."""
    for task_id in task_ids:
        from workers.tasks import assemble_for_initiative

        if distributed:
            assemble_for_initiative.apply_async(args=[task_id])
        else:
            assemble_for_initiative.apply(args=[task_id], throw=True)


def open_and_dispatch(
    database_url: str,
    workspace: Workspace,
    at: datetime,
    *,
    out_dir: Path,
    campaign: str | None,
) -> int:
    """What beat's ``fire_due`` does: open due runs, send their shares, do not wait."""
    opened = open_due_runs(database_url, workspace, at, out_dir=out_dir, campaign=campaign, now=at)
    task_ids = [task_id for *_, ids in opened for task_id in ids]
    dispatch(task_ids, distributed=True)
    return len(task_ids)


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
    on_progress: Callable[[int], None] | None = None,
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
    if on_progress:
        on_progress(len(task_ids))
    dispatch(task_ids, distributed=distributed)
    if distributed and opened:
        _wait_until_finished(database_url, [run_id for _, run_id, _, _ in opened], timeout)
    return report(database_url, opened)
