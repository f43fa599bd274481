"""Event triggers end to end: `depesche ingest` against a real redis-server and worker process.

The ingest commits items with their ``item.published`` events, then kicks the outbox
dispatcher, which publishes event ids to ``depesche.handle_event``; the worker opens the event
slots and assembles their pieces. The database is counted, never the broker.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from campaigns.models import Run, RunTask, Slot
from config.db import session_scope
from config.models import Event
from content.models import Piece
from tests.event_workspace import CAMPAIGN, INGEST_AT, build_event_workspace
from tests.services import ROOT, depesche_command, depesche_env

HANDLED = re.compile(r"depesche\.handle_event\[[0-9a-f-]+\] succeeded")


def _depesche(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        depesche_command(*args), env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def _count(database_url: str, model: Any, *where: Any) -> int:
    with session_scope(database_url) as session:
        query = select(func.count()).select_from(model)
        for clause in where:
            query = query.where(clause)
        return int(session.scalar(query) or 0)


def _wait(condition: Callable[[], bool], what: str, timeout: float = 150.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout}s: {what}")
        time.sleep(0.2)


def _handled(log: Path) -> int:
    return len(HANDLED.findall(log.read_text(errors="replace"))) if log.exists() else 0


def _env(redis_url: str, database_url: str, workspace: Path, out: Path) -> dict[str, str]:
    return depesche_env(
        broker_url=redis_url,
        database_url=database_url,
        workspace=str(workspace),
        out_dir=str(out),
    )


def _item_events_sent_at(database_url: str) -> dict[int, Any]:
    with session_scope(database_url) as session:
        events = session.scalars(select(Event).where(Event.type == "item.published"))
        return {event.id: event.dispatched_at for event in events}


def test_ingest_with_a_broker_opens_each_event_slot_once_through_a_worker(
    tmp_path: Path, database_url: str, redis_server, start_worker
) -> None:
    workspace = build_event_workspace(tmp_path / "workspace", matching=3)
    out = tmp_path / "out"
    env = _env(redis_server.url, database_url, workspace.root, out)
    worker = start_worker(workspace.root, env)
    log = tmp_path / "worker-0.log"

    first = _depesche("ingest", str(workspace.root), "--now", INGEST_AT.isoformat(), env=env)

    assert first.returncode == 0, first.stdout + first.stderr
    items = _count(database_url, Event, Event.type == "item.published")
    assert f"Events: {items} sent to the workers." in first.stdout
    _wait(lambda: _handled(log) == items, f"{items} events handled")
    _wait(
        lambda: _count(database_url, RunTask, RunTask.status == "done") == 3,
        "three shares done",
    )
    assert worker.poll() is None, "the worker died"
    assert _count(database_url, Slot) == 3
    assert _count(database_url, Run) == 3
    assert _count(database_url, Piece) == 3
    manifests = sorted((out / "krefeld" / CAMPAIGN).glob("eilmeldung-item-*/manifest.json"))
    links = {json.loads(m.read_text())["pieces"][0]["items"][0]["url"] for m in manifests}
    assert sorted(links) == sorted(workspace.matching)

    sent_at = _item_events_sent_at(database_url)
    second = _depesche("ingest", str(workspace.root), "--now", INGEST_AT.isoformat(), env=env)

    assert second.returncode == 0, second.stdout + second.stderr
    # No item event is recorded or sent again. (The pieces' own events, drafted and approved,
    # recorded by the worker after the first dispatch, go out with this one.)
    assert _item_events_sent_at(database_url) == sent_at
    assert _count(database_url, Slot) == 3
    listed = _depesche(
        "events",
        str(workspace.root),
        "--type",
        "item.published",
        "--json",
        "--limit",
        "1000",
        env=env,
    )
    records = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(records) == items
    assert set(records[0]) == {"id", "type", "key", "occurred_at", "dispatched_at", "payload"}
    assert [r["id"] for r in records] == sorted((r["id"] for r in records), reverse=True)
    assert all(r["dispatched_at"] for r in records)
    assert {r["payload"]["url"] for r in records} >= set(workspace.matching)


def test_a_burst_of_500_item_events_dispatched_twice_is_handled_once(
    tmp_path: Path, database_url: str, redis_server, start_worker
) -> None:
    workspace = build_event_workspace(tmp_path / "workspace", matching=500)
    out = tmp_path / "out"
    env = _env(redis_server.url, database_url, workspace.root, out)
    worker = start_worker(workspace.root, env, concurrency=2)
    log = tmp_path / "worker-0.log"

    first = _depesche("ingest", str(workspace.root), "--now", INGEST_AT.isoformat(), env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    # A dispatcher that died after publishing, before marking: every event goes out again,
    # while the worker is still busy with the first round.
    with session_scope(database_url) as session:
        session.execute(
            update(Event).where(Event.type == "item.published").values(dispatched_at=None)
        )
    second = _depesche("ingest", str(workspace.root), "--now", INGEST_AT.isoformat(), env=env)
    assert second.returncode == 0, second.stdout + second.stderr

    items = _count(database_url, Event, Event.type == "item.published")
    sent = re.search(r"Events: (\d+) sent to the workers\.", second.stdout)
    assert sent is not None, second.stdout
    # Every item event again, plus the events of the pieces the worker drafted meanwhile.
    again = int(sent[1])
    assert again >= items
    _wait(lambda: _handled(log) == items + again, f"{items + again} deliveries handled")
    _wait(
        lambda: _count(database_url, RunTask, RunTask.status == "done") == 500,
        "500 shares done",
    )
    assert worker.poll() is None, "the worker died"
    assert _count(database_url, Slot) == 500
    assert _count(database_url, Run) == 500
    assert _count(database_url, RunTask) == 500
    assert _count(database_url, Piece) == 500
    assert _count(database_url, Event, Event.type == "slot.fired") == 500
    with session_scope(database_url) as session:
        assert session.scalar(select(func.count(func.distinct(Slot.item_id)))) == 500
    assert len(list((out / "krefeld" / CAMPAIGN).glob("*/manifest.json"))) == 500


def test_ingest_without_a_broker_handles_the_events_in_process(
    tmp_path: Path, database_url: str
) -> None:
    workspace = build_event_workspace(tmp_path / "workspace", matching=2)
    out = tmp_path / "out"
    env = depesche_env(database_url=database_url, workspace=str(workspace.root), out_dir=str(out))

    result = _depesche("ingest", str(workspace.root), "--now", INGEST_AT.isoformat(), env=env)

    assert result.returncode == 0, result.stdout + result.stderr
    items = _count(database_url, Event, Event.type == "item.published")
    assert f"Events: {items} handled." in result.stdout
    assert _count(database_url, Slot) == 2
    assert _count(database_url, RunTask, RunTask.status == "done") == 2
    assert len(list((out / "krefeld" / CAMPAIGN).glob("*/manifest.json"))) == 2
    listed = _depesche("events", str(workspace.root), "--type", "slot.fired", "--json", env=env)
    assert [json.loads(line)["type"] for line in listed.stdout.splitlines()] == ["slot.fired"] * 2
