"""Fixtures shared by the whole suite: the example workspace, migrated databases, real services.

Servers are started by the tests themselves on free loopback ports and stopped afterwards; the
database of every test is built through the Alembic migrations, as in production.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config.migrate import upgrade
from tests.services import EXAMPLE, ROOT, depesche_command, free_port, wait_for_port


@pytest.fixture()
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'depesche.db'}"
    upgrade(url)
    return url


@pytest.fixture()
def example_workspace(tmp_path: Path) -> Path:
    """A copy of the example, so a test may change it without touching the repository."""
    target = tmp_path / "workspace"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("var", "out"))
    return target


class RedisServer:
    def __init__(self, port: int, process: subprocess.Popen[bytes]) -> None:
        self.port, self.process = port, process

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture()
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run `make test`, which installs it")
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield RedisServer(port, process)
    finally:
        process.terminate()
        process.wait(timeout=10)


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

    def __init__(self, root: Path) -> None:
        from campaigns.workspace import load_workspace
        from config.settings import configure, load_settings
        from workers.demo import replay

        self.workspace_root = root / "workspace"
        shutil.copytree(EXAMPLE, self.workspace_root, ignore=shutil.ignore_patterns("var", "out"))
        self.database_url = f"sqlite:///{root / 'demo.db'}"
        self.out = root / "out"
        upgrade(self.database_url)
        self.workspace = load_workspace(self.workspace_root)
        configure(load_settings(self.workspace_root, database_url=self.database_url))
        try:
            self.replay = replay(self.database_url, self.workspace, self.out, clock=fixed_clock)
        finally:
            configure(None)


def fixed_clock() -> datetime:
    return datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    return DemoRun(tmp_path_factory.mktemp("demo"))
