"""Fixtures shared by the whole suite: the example workspace, migrated databases, real services.

Servers are started by the tests themselves on free loopback ports and stopped afterwards; the
database of every test is built through the Alembic migrations, as in production.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config.db import get_engine
from config.migrate import upgrade
from tests.mail_sink import MailSink
from tests.services import (
    EXAMPLE,
    ROOT,
    PostgresServer,
    depesche_command,
    free_port,
    wait_for_port,
)

# `make test` runs the suite twice: on SQLite (the embedded default), then with
# DEPESCHE_TEST_DATABASE=postgresql against a PostgreSQL server the session starts itself.
TEST_DATABASE = os.environ.get("DEPESCHE_TEST_DATABASE", "sqlite")
TEST_DATABASES = ("sqlite", "postgresql")


# Fixtures through which a test reaches a database; the rest of the suite never opens one.
DATABASE_FIXTURES = frozenset({"database_url", "demo_run", "postgres_server"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the PostgreSQL pass, run only the tests that use a database.

    Tests that never open a database (counting, parsing, rendering, validation) behave the same
    on either pass; running them twice would only double the suite's time.
    """
    if TEST_DATABASE != "postgresql":
        return
    keep = [i for i in items if DATABASE_FIXTURES & set(getattr(i, "fixturenames", ()))]
    skipped = [i for i in items if i not in keep]
    if skipped:
        config.hook.pytest_deselected(items=skipped)
        items[:] = keep


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | None]:
    """The session's PostgreSQL server when the suite runs on PostgreSQL, else None."""
    if TEST_DATABASE not in TEST_DATABASES:
        pytest.fail(f"DEPESCHE_TEST_DATABASE={TEST_DATABASE!r}: use one of {TEST_DATABASES}")
    if TEST_DATABASE != "postgresql":
        yield None
        return
    server = PostgresServer(upgrade)
    try:
        yield server
    finally:
        server.stop()


def new_database(server: PostgresServer | None, directory: Path) -> str:
    """A fresh database at the newest schema: a SQLite file in ``directory``, or on the server."""
    if server is None:
        url = f"sqlite:///{directory / 'depesche.db'}"
        upgrade(url)
        return url
    return server.create_database()


def drop_database(server: PostgresServer | None, url: str) -> None:
    if server is None:
        get_engine(url).dispose()
    else:
        server.drop_database(url)


@pytest.fixture()
def database_url(tmp_path: Path, postgres_server: PostgresServer | None) -> Iterator[str]:
    """A fresh, migrated database for this test alone (SQLite or PostgreSQL, see above)."""
    url = new_database(postgres_server, tmp_path)
    yield url
    drop_database(postgres_server, url)


@pytest.fixture()
def example_workspace(tmp_path: Path) -> Path:
    """A copy of the example, so a test may change it without touching the repository."""
    target = tmp_path / "workspace"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("var", "out"))
    return target


class RedisServer:
    def __init__(self, port: int, command: list[str], process: subprocess.Popen[bytes]) -> None:
        # The command is kept so a fault test can start the server again on the same port.
        self.port, self.command, self.process = port, command, process

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture()
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run `make test`, which installs it")
    port = free_port()
    command = [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", "--dir", str(tmp_path),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = RedisServer(port, command, process)
    try:
        wait_for_port(port)
        yield server
    finally:
        server.process.terminate()
        server.process.wait(timeout=10)


@pytest.fixture()
def start_worker(tmp_path: Path) -> Iterator[object]:
    """Start real `depesche worker` processes; each is stopped when the test ends."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(
        workspace: Path, env: dict[str, str], concurrency: int = 2
    ) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker-{len(processes)}.log").open("wb")
        process = subprocess.Popen(
            depesche_command("worker", str(workspace), "--concurrency", str(concurrency)),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
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


class DemoRun:
    """The example's demo replay, run once per session in-process on a copy of the example."""

    def __init__(self, root: Path, server: PostgresServer | None) -> None:
        from campaigns.workspace import load_workspace
        from config.settings import configure, load_settings
        from workers.demo import replay

        self.workspace_root = root / "workspace"
        shutil.copytree(EXAMPLE, self.workspace_root, ignore=shutil.ignore_patterns("var", "out"))
        self.database_url = new_database(server, root)
        self.out = root / "out"
        self.workspace = load_workspace(self.workspace_root)
        configure(load_settings(self.workspace_root, database_url=self.database_url))
        try:
            self.replay = replay(self.database_url, self.workspace, self.out, clock=fixed_clock)
        finally:
            configure(None)


def fixed_clock() -> datetime:
    return datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def demo_run(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer | None
) -> DemoRun:
    return DemoRun(tmp_path_factory.mktemp("demo"), postgres_server)


@pytest.fixture
def mail_sink() -> Iterator[MailSink]:
    """A real SMTP server (aiosmtpd) on a free loopback port, stopped after the test."""
    sink = MailSink().start()
    yield sink
    sink.stop()
