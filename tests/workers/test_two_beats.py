"""Two real ``depesche beat`` processes started by mistake on one database and one broker.

Not two scheduler objects in one process (tests/workers/test_scheduler_database.py does that
with a fake clock): two command-line beats, a real redis-server and a real ``depesche worker``,
on SQLite and, in the PostgreSQL pass, on PostgreSQL. Both beats run with the same
``DEPESCHE_BEAT_CLOCK_OFFSET``, so their clocks agree on where Monday 2026-11-16 08:00 (the
weekly digest's slot) lies: a few seconds ahead, so both wake for it at the same moment, or just
behind, so both catch it up in their first tick before either has stored a watermark. Either
way the slot must fire once: one slot row, one run, one ``slot.fired`` event, one beat logging
it as fired, every piece once in the database and once in the output folder.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from celery import Celery
from sqlalchemy import func, select
from sqlalchemy.exc import ProgrammingError

from campaigns.models import Run, RunTask, Slot
from campaigns.workspace import Workspace, load_workspace
from config.db import session_scope
from config.models import Event
from content.ingest import ingest
from content.models import Piece
from tests.services import depesche_command, depesche_env
from workers.schedule_models import MissedSlot, ScheduleState
from workers.scheduler import DatabaseScheduler

CAMPAIGN = "wochenrueckblick"
DUE = datetime(2026, 11, 16, 7, 0, tzinfo=UTC)  # Monday 08:00 Europe/Berlin
SLOT = f"{CAMPAIGN}/digest-20261116T0700Z"
FOLDER = "digest-20261116T0700Z"
TIMEOUT = 150.0  # generous: on a busy machine the beats alone take half a minute to start
FIRED = re.compile(rf"slot {re.escape(SLOT)} fired$", re.MULTILINE)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def count(database_url: str, statement: Any) -> int:
    with session_scope(database_url) as session:
        return int(session.scalar(statement) or 0)


def run_finished(database_url: str) -> bool:
    with session_scope(database_url) as session:
        return session.scalar(select(Run.status).where(Run.slot_key == SLOT)) == "done"


def ticked_by(database_url: str) -> str | None:
    with session_scope(database_url) as session:
        state = session.get(ScheduleState, "default")
        return None if state is None else state.ticked_by


@pytest.fixture()
def digest_workspace(example_workspace: Path, database_url: str) -> list[str]:
    """The example with only its weekly digest, its feeds ingested the morning of the slot."""
    for path in (example_workspace / "campaigns").glob("*.yaml"):
        if path.stem != CAMPAIGN:
            path.unlink()
    workspace = load_workspace(example_workspace)
    ingest(
        database_url,
        list(workspace.feeds.values()),
        base_dir=workspace.root,
        now=DUE - timedelta(hours=1),
        fetch=workspace.config.fetch,
    )
    return sorted(workspace.initiatives)


@pytest.fixture()
def start_beat(
    tmp_path: Path,
) -> Iterator[Callable[[Path, dict[str, str]], subprocess.Popen[bytes]]]:
    """Start real ``depesche beat`` processes; each is stopped when the test ends."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(workspace: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (tmp_path / f"beat-{len(processes)}.log").open("wb") as log:
            process = subprocess.Popen(
                depesche_command("beat", str(workspace)),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,  # not the repository: nothing beat writes lands there
            )
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.parametrize(
    "lead",
    [
        # The slot lies ahead when the beats start: both sleep until it and wake for it at the
        # same moment. (On a machine busy enough that starting takes them longer, the one that
        # comes up late catches it up instead; the slot must fire once all the same.)
        pytest.param(timedelta(seconds=45), id="slot-ahead-at-start"),
        # The slot is already due when they start: both catch it up in their first tick, before
        # either has stored a watermark, and race to open its run.
        pytest.param(timedelta(seconds=-30), id="slot-due-at-start"),
    ],
)
def test_two_beat_processes_fire_the_slot_once(
    lead: timedelta,
    tmp_path: Path,
    database_url: str,
    example_workspace: Path,
    digest_workspace: list[str],
    redis_server: Any,
    start_worker: Any,
    start_beat: Callable[[Path, dict[str, str]], subprocess.Popen[bytes]],
) -> None:
    out = tmp_path / "out"
    offset = (DUE - lead - datetime.now(UTC)).total_seconds()
    env = depesche_env(
        broker_url=redis_server.url,
        database_url=database_url,
        workspace=str(example_workspace),
        out_dir=str(out),
        beat_clock_offset=str(offset),
    )
    start_worker(example_workspace, env, concurrency=1)
    beats = [start_beat(example_workspace, env), start_beat(example_workspace, env)]

    wait_until(lambda: run_finished(database_url), "the digest run to finish")
    # Both beats keep deciding windows after the slot (each tick moves the watermark and signs
    # it with its host:pid), so neither merely lost a start-up race and went idle.
    seen: set[str] = set()

    def both_ticked() -> bool:
        by = ticked_by(database_url)
        if by is not None:
            seen.add(by.rsplit(":", 1)[1])
        return seen >= {str(beat.pid) for beat in beats}

    wait_until(both_ticked, "both beats to tick after the slot")
    assert all(beat.poll() is None for beat in beats), "a beat process died"
    logs = [(tmp_path / f"beat-{n}.log").read_text() for n in range(len(beats))]
    assert sum(len(FIRED.findall(log)) for log in logs) == 1, logs

    assert count(database_url, select(func.count()).select_from(Slot)) == 1
    assert count(database_url, select(func.count()).select_from(Run)) == 1
    fired = select(func.count()).select_from(Event).where(Event.type == "slot.fired")
    assert count(database_url, fired) == 1
    assert count(database_url, select(func.count()).select_from(MissedSlot)) == 0
    with session_scope(database_url) as session:
        shares = list(session.scalars(select(RunTask)))
        keys = list(session.scalars(select(Piece.key).where(Piece.slot_key == SLOT)))
    assert sorted(s.initiative for s in shares) == digest_workspace
    assert {s.status for s in shares} == {"done"}
    assert [s.attempts for s in shares] == [1] * len(shares)  # no share was composed twice
    # Four audiences: four issues per initiative, each once.
    assert len(keys) == len(set(keys)) == 4 * len(digest_workspace)

    manifests = sorted(out.rglob("manifest.json"))
    assert [m.relative_to(out).parts[:3] for m in manifests] == [
        (slug, CAMPAIGN, FOLDER) for slug in digest_workspace
    ]
    listed = [p["key"] for m in manifests for p in json.loads(m.read_text())["pieces"]]
    assert sorted(listed) == sorted(keys)

    # Both stop on SIGTERM (as `docker compose stop` sends it), whatever they were doing.
    for beat in beats:
        beat.terminate()
    assert [beat.wait(timeout=30) for beat in beats] == [0, 0]


class InterruptedWorkspace:
    """Stands in for the workspace: reading its campaigns is where a SIGTERM arrives mid-query,
    masked the way psycopg's cleanup masked it in this test's PostgreSQL pass (SQLAlchemy's
    pre-ping restoring autocommit on a connection still busy with the interrupted query)."""

    root = Path(".")

    def __init__(self, interrupt: bool) -> None:
        self.interrupt = interrupt

    @property
    def campaigns(self) -> dict[str, Any]:
        try:
            try:
                if self.interrupt:
                    raise SystemExit()  # what beat's SIGTERM handler raises
            finally:
                raise RuntimeError("can't change 'autocommit' now: connection in status ACTIVE")
        except RuntimeError as error:
            raise ProgrammingError("SELECT 1", {}, error) from error


@pytest.mark.parametrize("interrupt", [True, False], ids=["sigterm-under-it", "database-error"])
def test_a_sigterm_masked_by_a_database_error_still_stops_beat(
    interrupt: bool, database_url: str, tmp_path: Path
) -> None:
    app = Celery("two-beats-test", broker="memory://")
    app.conf.update(beat_schedule={})
    scheduler = DatabaseScheduler(
        app,
        clock=lambda: DUE,
        database_url=database_url,
        workspace=cast(Workspace, InterruptedWorkspace(interrupt)),
        out_dir=tmp_path / "out",
        send=lambda *_: None,
    )
    try:
        if interrupt:
            with pytest.raises(SystemExit):
                scheduler.tick_slots()
        else:  # a plain database error is logged and the tick tried again soon
            assert scheduler.tick_slots() == scheduler.retry_after
    finally:
        app.close()
