"""One weekly digest slot for 1,000 initiatives: in-process, and through Redis to 1 and 2 workers.

Issue 4's benchmark. A generated workspace (the example's six model regions cloned into N
initiatives, its weekly digest ``wochenrueckblick`` as the only campaign, the example's feeds
ingested so every digest has news to select from) fires the slot of Monday 2026-11-16 08:00
Europe/Berlin, and the same slot is run four ways, each on a fresh database:

- in-process on SQLite (the embedded default, ``depesche run`` without a broker);
- in-process on PostgreSQL;
- through a real redis-server with 1 ``depesche worker --concurrency 1`` process, on PostgreSQL;
- the same with 2 such processes.

The distributed passes go through ``workers.runner.run_at(distributed=True)``, which is what
``depesche run`` does when ``DEPESCHE_BROKER_URL`` is set: open the run, send the shares in
chunks, poll the database until every share is finished. Workers are started and answer a ping
before the clock starts; they parse the workspace at start (``workers.tasks._load_workspace``),
and the in-process pass reuses the one it was given (``run_at`` remembers it), so no pass times
parsing 1,000 initiatives (about 17 s here, longer than a hundred shares).

Printed: pieces per second of each pass, the ratio 2 workers / 1 worker (target at least 1.5 on
two cores that Redis and PostgreSQL share) and 1 worker over Redis / in-process on PostgreSQL
(target: at most 15 % slower), with the load average before and after, since the machine may
be shared, and CPU seconds per piece of every process involved (this one, workers, PostgreSQL,
Redis), which the other load on the machine does not stretch. Only ratios within one run mean
something. PostgreSQL is started the way the tests start it (``tests.services.PostgresServer``:
a throwaway cluster on a free loopback port).

Run with ``.venv/bin/python bench/distributed.py [--initiatives N] [--chunk-size N] [--audiences]``.
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import yaml
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python bench/distributed.py` from anywhere: tests.services

from campaigns.models import RunTask  # noqa: E402
from campaigns.workspace import Workspace, load_workspace  # noqa: E402
from config.db import dispose_engines, get_engine, session_scope  # noqa: E402
from config.migrate import upgrade  # noqa: E402
from config.settings import configure, load_settings  # noqa: E402
from content.ingest import ingest  # noqa: E402
from content.models import Piece  # noqa: E402
from tests.services import (  # noqa: E402
    EXAMPLE,
    PostgresServer,
    depesche_command,
    depesche_env,
    free_port,
    wait_for_port,
)
from workers import runner  # noqa: E402

CAMPAIGN = "wochenrueckblick"
DIGEST_AT = datetime(2026, 11, 16, 7, 0, tzinfo=UTC)  # Monday 08:00 Europe/Berlin
INGEST_AT = datetime(2026, 11, 16, 6, 0, tzinfo=UTC)
WORKER_START_TIMEOUT = 120.0
RUN_TIMEOUT = 1800.0


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def cpu_seconds() -> float:
    """CPU time of this process and everything it started: workers with their pool children,
    PostgreSQL with its backends, redis-server (finished children count through their parent).

    Other engineers' load stretches wall-clock time but not these seconds, so CPU per piece
    shows what the orchestration itself costs even on a busy machine.
    """
    me = psutil.Process()
    total = 0.0
    for process in [me, *me.children(recursive=True)]:
        try:
            t = process.cpu_times()
        except psutil.Error:  # exited between listing and reading: its parent counts it
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def generate_workspace(root: Path, count: int, *, audiences: bool = False) -> Workspace:
    """The example with only its weekly digest, and its initiatives cloned to ``count``.

    Without ``audiences`` the digest is one issue per initiative instead of the example's four
    (one per audience), which keeps a pass over 1,000 initiatives within a few minutes.
    """
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("var", "out", "campaigns"))
    (root / "campaigns").mkdir()
    campaign = yaml.safe_load((EXAMPLE / "campaigns" / f"{CAMPAIGN}.yaml").read_text("utf-8"))
    if not audiences:
        for deliverable in campaign["deliverables"]:
            deliverable.pop("audiences", None)
    (root / "campaigns" / f"{CAMPAIGN}.yaml").write_text(
        yaml.safe_dump(campaign, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    path = root / "initiatives.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    originals = list(data["initiatives"])
    for n in range(count - len(originals)):
        clone = copy.deepcopy(originals[n % len(originals)])
        clone["slug"] = f"{clone['slug']}-{n + 2:04d}"
        clone["name"] = f"{clone['name']} {n + 2}"
        data["initiatives"].append(clone)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_workspace(root)


class Redis:
    """A throwaway redis-server on a free loopback port, no persistence."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server is not installed (scripts/system-packages.sh test)")
        self.port = free_port()
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@contextmanager
def workers(
    count: int, workspace: Path, env: dict[str, str], logs: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` real ``depesche worker --concurrency 1`` processes, answering pings."""
    from config.celery_app import app

    processes = []
    for n in range(count):
        with (logs / f"worker-{count}-{n}.log").open("wb") as log:
            processes.append(
                subprocess.Popen(
                    [*depesche_command("worker", str(workspace), "--concurrency", "1",
                                       "--loglevel", "WARNING")],
                    env=env,
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )  # fmt: skip
    try:
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while len(app.control.ping(timeout=0.5)) < count:
            if any(p.poll() is not None for p in processes):
                raise SystemExit(f"a worker exited; see {logs}")
            if time.monotonic() > deadline:
                raise SystemExit(f"{count} workers did not answer within {WORKER_START_TIMEOUT}s")
        yield processes
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass(frozen=True)
class Pass:
    label: str
    seconds: float
    cpu: float
    pieces: int
    shares: int
    failed: int
    load_before: str
    load_after: str

    @property
    def rate(self) -> float:
        return self.pieces / self.seconds

    @property
    def cpu_per_piece(self) -> float:
        return self.cpu / self.pieces


def prepare(url: str, ws: Workspace) -> None:
    """Migrated database with the example's items: not timed."""
    ingest(url, list(ws.feeds.values()), base_dir=ws.root, now=INGEST_AT, fetch=ws.config.fetch)


def timed_run(
    label: str, url: str, ws: Workspace, out: Path, *, distributed: bool, chunk_size: int
) -> Pass:
    fanout = runner.Fanout(chunk_size=chunk_size)
    before = load()
    cpu = cpu_seconds()
    start = time.perf_counter()
    reports = runner.run_at(
        url,
        ws,
        DIGEST_AT,
        out_dir=out,
        now=datetime.now(UTC),
        campaign=CAMPAIGN,
        distributed=distributed,
        timeout=RUN_TIMEOUT,
        fanout=fanout,
    )
    seconds = time.perf_counter() - start
    cpu = cpu_seconds() - cpu
    after = load()
    (report,) = reports
    with session_scope(url) as session:
        pieces = int(
            session.scalar(
                select(func.count()).select_from(Piece).where(Piece.slot_key == report.slot.key)
            )
            or 0
        )
        shares = int(
            session.scalar(
                select(func.count())
                .select_from(RunTask)
                .where(RunTask.run_id == report.run_id, RunTask.status == "done")
            )
            or 0
        )
    result = Pass(label, seconds, cpu, pieces, shares, len(report.errors), before, after)
    print(
        f"  {label:<34} {result.rate:7.1f} pieces/s  {result.cpu_per_piece * 1000:6.1f} ms CPU "
        f"per piece  {pieces} pieces, {shares} shares done, {len(report.errors)} failed, "
        f"{seconds:.1f} s wall, {cpu:.1f} s CPU  (load {before} -> {after})",
        flush=True,
    )
    return result


def summary(results: dict[str, Pass]) -> None:
    one = results["1 worker over Redis, PostgreSQL"]
    two = results["2 workers over Redis, PostgreSQL"]
    embedded_pg = results["in-process, PostgreSQL"]
    scaling = two.rate / one.rate
    slower = embedded_pg.rate / one.rate - 1
    print(
        f"2 workers / 1 worker = {scaling:.2f} "
        f"({'meets' if scaling >= 1.5 else 'misses'} the 1.5 target)"
    )
    print(
        f"1 worker over Redis vs in-process (PostgreSQL): {slower:+.1%} time "
        f"({'meets' if slower <= 0.15 else 'misses'} the at-most-15 % target)"
    )
    print(
        f"CPU per piece, 1 worker over Redis vs in-process (PostgreSQL): "
        f"{one.cpu_per_piece / embedded_pg.cpu_per_piece - 1:+.1%}; 2 workers vs 1 worker: "
        f"{two.cpu_per_piece / one.cpu_per_piece - 1:+.1%} (what orchestration costs, "
        "whatever the load)"
    )
    print(f"load average after: {load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--initiatives", type=int, default=1000)
    parser.add_argument("--chunk-size", type=int, default=load_settings(ROOT).chunk_size)
    parser.add_argument("--skip-sqlite", action="store_true", help="leave out pass (a) on SQLite")
    parser.add_argument(
        "--audiences", action="store_true", help="four issues per initiative, as in the example"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    for key in [k for k in os.environ if k.startswith("DEPESCHE_")]:
        del os.environ[key]  # this process only: the bench chooses its own databases and broker

    with tempfile.TemporaryDirectory(prefix="depesche-distributed-") as name:
        tmp = Path(name)
        ws = generate_workspace(tmp / "workspace", args.initiatives, audiences=args.audiences)
        print(
            f"{len(ws.initiatives)} initiatives, campaign {CAMPAIGN}, "
            f"slot {DIGEST_AT.isoformat()}, chunk size {args.chunk_size}, "
            f"{os.cpu_count()} CPUs, load {load()}",
            flush=True,
        )
        results: dict[str, Pass] = {}

        def embedded(label: str, url: str) -> None:
            prepare(url, ws)
            configure(load_settings(ws.root, database_url=url))
            try:
                results[label] = timed_run(
                    label, url, ws, tmp / f"out-{label}", distributed=False,
                    chunk_size=args.chunk_size,
                )  # fmt: skip
            finally:
                configure(None)

        if not args.skip_sqlite:
            url = f"sqlite:///{tmp / 'embedded.db'}"
            upgrade(url)
            embedded("in-process, SQLite", url)
            get_engine(url).dispose()

        server = PostgresServer(upgrade)
        redis = Redis(tmp)
        try:
            embedded("in-process, PostgreSQL", server.create_database())
            from config.celery_app import app

            app.conf.broker_url = redis.url
            for count in (1, 2):
                label = f"{count} worker{'s' if count > 1 else ''} over Redis, PostgreSQL"
                url = server.create_database()
                prepare(url, ws)
                env = depesche_env(
                    broker_url=redis.url,
                    database_url=url,
                    workspace=str(ws.root),
                    chunk_size=str(args.chunk_size),
                    log_level="WARNING",
                )
                with workers(count, ws.root, env, tmp):
                    results[label] = timed_run(
                        label, url, ws, tmp / f"out-{count}", distributed=True,
                        chunk_size=args.chunk_size,
                    )  # fmt: skip
                dispose_engines()
        finally:
            redis.stop()
            server.stop()
        summary(results)  # before the temporary folder (1,000s of files) is removed


if __name__ == "__main__":
    main()
