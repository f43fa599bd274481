"""One initiative's share of a run, start to finish, in plain Python (tasks only call this).

Load by id, assemble (or find) the pieces, write the slot folder, mark the share done. A template
error fails only this share and is recorded with its message; the run carries on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from campaigns.models import Run, RunTask, Slot
from campaigns.planner import SlotSpec
from campaigns.runs import finish_task
from campaigns.workspace import Workspace, load_workspace
from config.db import session_scope
from content.assembly import assemble
from content.models import Piece
from content.rendering import RenderError
from workers.channels.folder import Bundle, OutputFile, OutputPiece, deliver

log = logging.getLogger(__name__)
_workspaces: dict[Path, Workspace] = {}


def workspace_for(root: Path, revision: str) -> Workspace:
    """The loaded workspace, reloaded only when the run was planned on another revision."""
    root = root.resolve()
    cached = _workspaces.get(root)
    if cached is None or cached.revision != revision:
        cached = load_workspace(root)
        _workspaces[root] = cached
    return cached


@dataclass(frozen=True)
class TaskOutcome:
    run_task_id: int
    status: str
    pieces: int
    error: str | None = None


def slot_spec(slot: Slot, workspace: Workspace) -> SlotSpec:
    deliverable = next(
        d for d in workspace.campaigns[slot.campaign].deliverables if d.id == slot.deliverable
    )
    return SlotSpec(
        campaign=slot.campaign,
        deliverable=slot.deliverable,
        kind=deliverable.kind,
        folder=slot.folder,
        due_at=slot.due_at,
        item_id=slot.item_id,
    )


def bundle_of(spec: SlotSpec, initiative: str, pieces: list[Piece]) -> Bundle:
    return Bundle(
        initiative=initiative,
        campaign=spec.campaign,
        slot=spec.folder,
        due_at=spec.due_at.isoformat(),
        pieces=tuple(
            OutputPiece(
                kind=p.kind,
                platform=p.platform,
                files=tuple(OutputFile(f.name, f.content) for f in p.files),
                items=tuple(p.provenance.get("items", [])),
                key=p.key,
                state=p.state,
            )
            for p in pieces
        ),
    )


def execute_run_task(
    database_url: str, workspace_root: Path, run_task_id: int, *, now: datetime
) -> TaskOutcome:
    with session_scope(database_url) as session:
        task = session.get(RunTask, run_task_id)
        if task is None:
            raise LookupError(f"run task {run_task_id} does not exist")
        if task.status in ("done", "failed"):
            return TaskOutcome(run_task_id, task.status, 0, task.error)
        run = session.get(Run, task.run_id)
        assert run is not None
        slot = session.get(Slot, run.slot_key)
        assert slot is not None
        task.status = "running"
        task.attempts += 1
        workspace = workspace_for(workspace_root, run.revision)
        spec = slot_spec(slot, workspace)
        error = None
        pieces: list[Piece] = []
        try:
            with session.begin_nested():
                pieces = assemble(session, workspace, spec, task.initiative, now=now)
        except RenderError as exc:
            error = str(exc)
            log.error("piece failed: %s", error)
        if error is None and pieces:
            deliver(bundle_of(spec, task.initiative, pieces), Path(run.out_dir))
        finish_task(session, task, error=error, now=now)
        return TaskOutcome(run_task_id, task.status, len(pieces), error)
