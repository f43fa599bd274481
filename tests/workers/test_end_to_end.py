"""The example workspace through a real Celery worker process over a real redis-server."""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from campaigns.workspace import load_workspace
from config.db import session_scope
from content.ingest import ingest
from content.models import Piece
from tests.services import ROOT, depesche_command, depesche_env

DIGEST_AT = "2026-11-16T08:00:00+01:00"
INGEST_AT = datetime(2026, 11, 16, 11, 0, tzinfo=UTC)


def _pieces(database_url: str) -> int:
    with session_scope(database_url) as session:
        return int(session.scalar(select(func.count()).select_from(Piece)) or 0)


def test_run_fans_out_to_a_worker_process_and_writes_every_initiative(
    tmp_path: Path, database_url: str, example_workspace: Path, redis_server, start_worker
) -> None:
    workspace = load_workspace(example_workspace)
    ingest(
        database_url,
        list(workspace.feeds.values()),
        base_dir=workspace.root,
        now=INGEST_AT,
        fetch=workspace.config.fetch,
    )
    env = depesche_env(
        broker_url=redis_server.url,
        database_url=database_url,
        workspace=str(example_workspace),
        run_timeout="120",
    )
    worker = start_worker(example_workspace, env)
    out = tmp_path / "out"
    command = depesche_command("run", str(example_workspace), "--at", DIGEST_AT, "--out", str(out))

    first = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)

    assert first.returncode == 0, first.stdout + first.stderr
    assert worker.poll() is None, "the worker died"
    slugs = list(workspace.initiatives)
    assert len(slugs) == 6
    for slug in slugs:
        folder = out / slug / "wochenrueckblick" / "digest-20261116T0700Z"
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["initiative"] == slug
        assert {p["kind"] for p in manifest["pieces"]} == {"newsletter"}
        for entry in manifest["pieces"][0]["files"]:
            data = (folder / entry["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert manifest["pieces"][0]["items"], "a digest names the items it used"
    worker_log = (tmp_path / "worker-0.log").read_text()
    assert "Task depesche.assemble_batch" in worker_log, "the shares ran in the worker process"
    assert "succeeded" in worker_log

    count = _pieces(database_url)
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    second = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)

    assert second.returncode == 0, second.stdout + second.stderr
    assert _pieces(database_url) == count
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == mtimes
