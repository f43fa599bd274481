"""Fault tests with real processes: a worker killed mid-run, the broker restarted mid-run.

Real redis-server, real `depesche worker` processes, the real `depesche run` command; the
database is the source of truth and the sweeper re-sends what it shows unfinished, so every
piece exists exactly once afterwards, in the database and in the output.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml
from sqlalchemy import func, select

from campaigns.models import RunTask
from campaigns.workspace import load_workspace
from config.db import session_scope
from content.ingest import ingest
from content.models import Piece
from tests.services import ROOT, depesche_command, depesche_env, wait_for_port

INITIATIVES = 96
DIGEST_AT = "2026-11-16T08:00:00+01:00"
SLOT = "digest-20261116T0700Z"


def many_initiatives(workspace: Path, count: int) -> list[str]:
    """Clone the example's initiatives until there are ``count`` of them."""
    path = workspace / "initiatives.yaml"
    data = yaml.safe_load(path.read_text())
    originals = list(data["initiatives"])
    for n in range(count - len(originals)):
        clone = dict(originals[n % len(originals)])
        clone["slug"] = f"{clone['slug']}-{n + 2}"
        data["initiatives"].append(clone)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return [entry["slug"] for entry in data["initiatives"]]


def shares_done(database_url: str) -> int:
    with session_scope(database_url) as session:
        return int(
            session.scalar(
                select(func.count()).select_from(RunTask).where(RunTask.status == "done")
            )
            or 0
        )


def wait_until(condition, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def prepared(tmp_path: Path, workspace: Path, database_url: str, redis_url: str):  # type: ignore[no-untyped-def]
    slugs = many_initiatives(workspace, INITIATIVES)
    loaded = load_workspace(workspace)
    ingest(
        database_url,
        list(loaded.feeds.values()),
        base_dir=loaded.root,
        now=datetime(2026, 11, 16, 6, tzinfo=UTC),
        fetch=loaded.config.fetch,
    )
    env = depesche_env(
        broker_url=redis_url,
        database_url=database_url,
        workspace=str(workspace),
        run_timeout="240",
        chunk_size="3",
        sweep_interval="1",
        resend_after="4",
        share_lease="4",
    )
    out = tmp_path / "out"
    command = depesche_command(
        "run", str(workspace), "--at", DIGEST_AT, "--campaign", "wochenrueckblick",
        "--out", str(out),
    )  # fmt: skip
    return slugs, env, out, command


def assert_every_piece_exactly_once(database_url: str, out: Path, slugs: list[str]) -> None:
    """One share per initiative, and each piece once: in the database and in the output."""
    assert shares_done(database_url) == len(slugs)
    with session_scope(database_url) as session:
        keys = list(session.scalars(select(Piece.key)))
    assert len(keys) == len(set(keys)) >= len(slugs)
    listed = []
    for slug in slugs:
        manifest = json.loads(
            (out / slug / "wochenrueckblick" / SLOT / "manifest.json").read_text()
        )
        assert {p["kind"] for p in manifest["pieces"]} == {"newsletter"}
        listed.extend(p["key"] for p in manifest["pieces"])
    assert sorted(listed) == sorted(keys)
    assert len(list(out.rglob("manifest.json"))) == len(slugs)


def test_worker_killed_mid_run_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, database_url: str, example_workspace: Path, redis_server, start_worker
) -> None:
    slugs, env, out, command = prepared(tmp_path, example_workspace, database_url, redis_server.url)
    first = start_worker(example_workspace, env, concurrency=1)
    run = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )

    wait_until(lambda: shares_done(database_url) >= 2)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    killed_at = shares_done(database_url)
    assert killed_at < INITIATIVES, "the run ended before the worker was killed"
    start_worker(example_workspace, env, concurrency=1)

    stdout, stderr = run.communicate(timeout=240)
    assert run.returncode == 0, stdout.decode() + stderr.decode()
    assert_every_piece_exactly_once(database_url, out, slugs)


def test_broker_restarted_mid_run_loses_nothing(
    tmp_path: Path, database_url: str, example_workspace: Path, redis_server, start_worker
) -> None:
    slugs, env, out, command = prepared(tmp_path, example_workspace, database_url, redis_server.url)
    start_worker(example_workspace, env, concurrency=1)
    run = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )

    wait_until(lambda: shares_done(database_url) >= 2)
    redis_server.process.terminate()
    redis_server.process.wait(timeout=10)
    assert shares_done(database_url) < INITIATIVES, "the run ended before the broker stopped"
    time.sleep(1.0)
    redis_server.process = subprocess.Popen(
        redis_server.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for_port(redis_server.port)

    stdout, stderr = run.communicate(timeout=240)
    assert run.returncode == 0, stdout.decode() + stderr.decode()
    assert_every_piece_exactly_once(database_url, out, slugs)
