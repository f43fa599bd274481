"""One initiative's share of a run, start to finish, in plain Python (tasks only call this).

Load by id, assemble (or find) the pieces, write the slot folder, mark the share done. A template
error fails only this share and is recorded with its message; the run carries on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from campaigns.models import Run, RunTask, Slot
from campaigns.planner import SlotSpec
from campaigns.runs import claim_task, finish_task
from campaigns.workspace import Workspace, load_workspace, workspace_revision
from config.db import session_scope
from content.assembly import assemble
from content.models import Piece
from content.rendering import RenderError
from workers.channels.folder import Bundle, OutputFile, OutputPiece, deliver

log = logging.getLogger(__name__)
# How long a claimed share may run before the sweeper takes it as abandoned (its worker died).
DEFAULT_LEASE = timedelta(minutes=5)
_workspaces: dict[Path, Workspace] = {}


class WorkspaceRevisionMismatch(Exception):
    """This worker's workspace is not the revision the run was planned on.

    The share is refused rather than composed from a mix of two versions of the campaigns and
    templates. It is transient: the task retries it, and once the workers are redeployed with
    the run's workspace a retry (or ``depesche retry RUN`` after the last one) succeeds.
    """

    def __init__(self, root: Path, *, expected: str, found: str) -> None:
        self.root, self.expected, self.found = root, expected, found
        super().__init__(
            f"workspace {root} is at revision {found[:12]}, but the run was planned on "
            f"{expected[:12]}: refusing the share instead of mixing versions; deploy the run's "
            "workspace to every worker (DEPESCHE_WORKSPACE), then retry the run"
        )


def workspace_for(root: Path, revision: str | None = None) -> Workspace:
    """The workspace at ``revision`` as this worker holds it on disk (None: whatever is there).

    The files are hashed on every call (well under a millisecond) and parsed again only when
    they changed, so a cached workspace never outlives its files. If the files on disk are not
    the run's revision, raise :class:`WorkspaceRevisionMismatch`.
    """
    root = root.resolve()
    on_disk = workspace_revision(root)
    if revision is not None and on_disk != revision:
        raise WorkspaceRevisionMismatch(root, expected=revision, found=on_disk)
    cached = _workspaces.get(root)
    if cached is None or cached.revision != on_disk:
        cached = load_workspace(root)
        _workspaces[root] = cached
    if revision is not None and cached.revision != revision:  # changed while it was read
        raise WorkspaceRevisionMismatch(root, expected=revision, found=cached.revision)
    return cached


def remember_workspace(workspace: Workspace) -> None:
    """Keep a workspace the caller has loaded already (``depesche run``, ``depesche demo``), so
    the shares run in this process do not parse the same files again; ``workspace_for`` still
    compares its revision with the files on disk before using it."""
    _workspaces[workspace.root.resolve()] = workspace


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
    return bundle_from(initiative, spec.campaign, spec.folder, spec.due_at.isoformat(), pieces)


def bundle_from(
    initiative: str, campaign: str, folder: str, due_at: str, pieces: list[Piece]
) -> Bundle:
    """One initiative's pieces of one slot as the folder channel and the content pack see them."""
    return Bundle(
        initiative=initiative,
        campaign=campaign,
        slot=folder,
        due_at=due_at,
        pieces=tuple(
            OutputPiece(
                kind=p.kind,
                platform=p.platform,
                files=tuple(OutputFile(f.name, f.content) for f in p.files),
                items=tuple(p.provenance.get("items", [])),
                audience=p.provenance.get("audience"),
                key=p.key,
                state=p.state,
            )
            for p in pieces
        ),
    )


def release_task(database_url: str, run_task_id: int) -> None:
    """Give a claimed share back after a transient error, so the retry can claim it again."""
    with session_scope(database_url) as session:
        task = session.get(RunTask, run_task_id)
        if task is not None and task.status == "running":
            task.status, task.claimed_at = "pending", None


def dead_letter(database_url: str, run_task_id: int, error: str, *, now: datetime) -> None:
    """Record a share that failed after its last retry: ``failed``, shown by ``depesche runs``."""
    with session_scope(database_url) as session:
        task = session.get(RunTask, run_task_id)
        if task is not None and task.status in ("pending", "running"):
            finish_task(session, task, error=error, now=now)


def execute_run_task(
    database_url: str,
    workspace_root: Path,
    run_task_id: int,
    *,
    now: datetime,
    lease: timedelta = DEFAULT_LEASE,
) -> TaskOutcome:
    """Claim the share, then compose, write and finish it; a repeat finds it done or held."""
    with session_scope(database_url) as session:
        claimed = claim_task(session, run_task_id, now=now, lease=lease)
        if not claimed:
            task = session.get(RunTask, run_task_id)
            if task is None:
                raise LookupError(f"run task {run_task_id} does not exist")
            return TaskOutcome(run_task_id, task.status, 0, task.error)
    try:
        return _work(database_url, workspace_root, run_task_id, now=now)
    except BaseException:
        release_task(database_url, run_task_id)
        raise


def _work(
    database_url: str, workspace_root: Path, run_task_id: int, *, now: datetime
) -> TaskOutcome:
    with session_scope(database_url) as session:
        task = session.get(RunTask, run_task_id)
        assert task is not None
        run = session.get(Run, task.run_id)
        assert run is not None
        slot = session.get(Slot, run.slot_key)
        assert slot is not None
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
