"""A worker composes a share only from the workspace revision its run was planned on."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from campaigns.models import RunTask
from campaigns.workspace import Workspace, load_workspace
from config.db import session_scope
from config.settings import configure, load_settings
from content.ingest import ingest
from content.models import Piece
from workers.execution import WorkspaceRevisionMismatch, execute_run_task, workspace_for
from workers.runner import open_due_runs
from workers.tasks import assemble_for_initiative

DIGEST = datetime(2026, 11, 16, 7, 0, tzinfo=UTC)


def _edit_campaign(root: Path) -> None:
    """A change that shapes output: the digest's subject line gets one more word."""
    path = root / "campaigns" / "wochenrueckblick.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "\n# neue Fassung\n", encoding="utf-8")


def _first_share(database_url: str, planned: Workspace, out: Path) -> int:
    ingest(
        database_url,
        list(planned.feeds.values()),
        base_dir=planned.root,
        now=DIGEST,
        fetch=planned.config.fetch,
    )
    opened = open_due_runs(
        database_url, planned, DIGEST, out_dir=out, campaign="wochenrueckblick", now=DIGEST
    )
    (_spec, _run_id, _created, task_ids) = opened[0]
    return task_ids[0]


def _share(database_url: str, task_id: int) -> tuple[str, str | None, int]:
    with session_scope(database_url) as session:
        task = session.get(RunTask, task_id)
        assert task is not None
        pieces = session.scalar(select(func.count()).select_from(Piece)) or 0
        return task.status, task.error, int(pieces)


@pytest.fixture()
def planner_and_worker(tmp_path: Path, example_workspace: Path) -> tuple[Workspace, Path]:
    """The run is planned on a new revision; the worker still holds the previous one."""
    worker_root = tmp_path / "worker-workspace"
    shutil.copytree(example_workspace, worker_root)
    _edit_campaign(example_workspace)
    return load_workspace(example_workspace), worker_root


def test_worker_on_another_revision_refuses_the_share_and_leaves_it_pending(
    tmp_path: Path, database_url: str, planner_and_worker: tuple[Workspace, Path]
) -> None:
    planned, worker_root = planner_and_worker
    task_id = _first_share(database_url, planned, tmp_path / "out")

    with pytest.raises(WorkspaceRevisionMismatch) as refused:
        execute_run_task(database_url, worker_root, task_id, now=DIGEST)

    message = str(refused.value)
    assert planned.revision[:12] in message
    assert load_workspace(worker_root).revision[:12] in message
    assert "refusing" in message
    assert _share(database_url, task_id) == ("pending", None, 0)
    assert not (tmp_path / "out").exists(), "nothing was written from the other revision"


def test_refused_share_succeeds_once_the_worker_has_the_runs_revision(
    tmp_path: Path, database_url: str, planner_and_worker: tuple[Workspace, Path]
) -> None:
    planned, worker_root = planner_and_worker
    task_id = _first_share(database_url, planned, tmp_path / "out")
    with pytest.raises(WorkspaceRevisionMismatch):
        execute_run_task(database_url, worker_root, task_id, now=DIGEST)

    shutil.rmtree(worker_root)  # the redeploy: the worker gets the run's workspace
    shutil.copytree(planned.root, worker_root)
    outcome = execute_run_task(database_url, worker_root, task_id, now=DIGEST)

    assert outcome.status == "done"
    assert outcome.pieces >= 1
    assert _share(database_url, task_id)[:2] == ("done", None)


def test_task_retries_a_refused_share_then_records_it_as_failed_with_the_reason(
    tmp_path: Path, database_url: str, planner_and_worker: tuple[Workspace, Path]
) -> None:
    planned, worker_root = planner_and_worker
    task_id = _first_share(database_url, planned, tmp_path / "out")
    configure(load_settings(worker_root, database_url=database_url))
    try:
        # Run in this process: each retry is applied at once, without the backoff's wait.
        assemble_for_initiative.apply(args=[task_id], throw=False)
    finally:
        configure(None)

    status, error, pieces = _share(database_url, task_id)
    assert status == "failed"
    assert error is not None
    assert "WorkspaceRevisionMismatch" in error
    assert "refusing the share instead of mixing versions" in error
    assert pieces == 0
    with session_scope(database_url) as session:
        task = session.get(RunTask, task_id)
        assert task is not None
        assert task.attempts > 1, "the share was tried again before it was given up"


def test_workspace_is_parsed_again_when_its_files_change(example_workspace: Path) -> None:
    first = workspace_for(example_workspace)
    assert workspace_for(example_workspace, first.revision) is first

    _edit_campaign(example_workspace)
    second = workspace_for(example_workspace)

    assert second.revision != first.revision
    with pytest.raises(WorkspaceRevisionMismatch):
        workspace_for(example_workspace, first.revision)
