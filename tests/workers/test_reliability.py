"""Reliability settings and the dead letter, checked against the real thing where it matters."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import redis

from campaigns.runs import list_runs, reopen_failed
from campaigns.workspace import load_workspace
from config.celery_app import create_app
from config.db import session_scope
from config.settings import configure, load_settings
from content.ingest import ingest
from workers.runner import Fanout, dispatch, open_due_runs, run_at

DIGEST = datetime(2026, 11, 16, 7, 0, tzinfo=UTC)


def test_tasks_are_acknowledged_late_and_requeued_when_a_worker_dies() -> None:
    conf = create_app().conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    # Longer than any share runs (the lease after which the sweeper takes a share over is 5 min).
    assert conf.broker_transport_options["visibility_timeout"] >= 3600


def test_shares_travel_in_chunks_and_never_as_broker_etas(
    tmp_path: Path, database_url: str, example_workspace: Path, redis_server, monkeypatch
) -> None:
    monkeypatch.setenv("DEPESCHE_BROKER_URL", redis_server.url)
    import config.celery_app

    monkeypatch.setattr(config.celery_app.app.conf, "broker_url", redis_server.url)
    workspace = load_workspace(example_workspace)
    opened = open_due_runs(
        database_url, workspace, DIGEST, out_dir=tmp_path, campaign="wochenrueckblick",
        now=DIGEST, payloads=[],
    )  # fmt: skip
    ids = [i for *_, task_ids in opened for i in task_ids]
    assert len(ids) == 6

    dispatch(database_url, ids, distributed=True, fanout=Fanout(chunk_size=4), now=DIGEST)

    messages = [
        json.loads(m) for m in redis.Redis.from_url(redis_server.url).lrange("depesche", 0, -1)
    ]
    assert len(messages) == 2
    for message in messages:
        assert message["headers"]["task"] == "depesche.assemble_batch"
        assert message["headers"]["eta"] is None
    bodies = [json.loads(base64.b64decode(m["body"]))[0][0] for m in messages]
    assert sorted(i for body in bodies for i in body) == sorted(ids)


def test_a_share_that_keeps_failing_is_dead_lettered_and_retry_finishes_it(
    tmp_path: Path, database_url: str, example_workspace: Path
) -> None:
    workspace = load_workspace(example_workspace)
    ingest(
        database_url,
        list(workspace.feeds.values()),
        base_dir=workspace.root,
        now=DIGEST,
        fetch=workspace.config.fetch,
    )
    blocked = tmp_path / "out"
    blocked.write_text("a file where the output folder should be")  # every write fails
    configure(load_settings(example_workspace, database_url=database_url))
    try:
        reports = run_at(
            database_url,
            workspace,
            DIGEST,
            out_dir=blocked,
            now=DIGEST,
            campaign="wochenrueckblick",
        )
        (report,) = reports
        with session_scope(database_url) as session:
            (summary,) = list_runs(session)
        assert (summary.status, summary.expected, summary.failed) == ("failed", 6, 6)
        assert all("failed after 5 retries" in error for error in report.errors)

        blocked.unlink()
        with session_scope(database_url) as session:
            reopened = reopen_failed(session, summary.id)
        dispatch(database_url, reopened, distributed=False)
    finally:
        configure(None)
    with session_scope(database_url) as session:
        (summary,) = list_runs(session)
    assert (summary.status, summary.done, summary.failed) == ("done", 6, 0)
    assert len(list(blocked.rglob("manifest.json"))) == 6
