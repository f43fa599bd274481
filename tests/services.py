"""Helpers for tests that start real services and the real command on loopback."""

from __future__ import annotations

import itertools
import os
import pwd
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from config.db import get_engine

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "zukunft-der-industrie"
SHARED = ROOT.parent / "shared"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def depesche_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPESCHE_")}
    env.update({f"DEPESCHE_{k.upper()}": v for k, v in values.items()})
    return env


def depesche_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "config.cli", *args]


# --- PostgreSQL ---------------------------------------------------------------------------------

POSTGRES_BINARIES = Path("/usr/lib/postgresql")
# The server the suite starts runs as this unprivileged user when the suite runs as root:
# initdb refuses root, and Debian's `postgresql` package creates this system user.
POSTGRES_USER = "postgres"
TEMPLATE_DATABASE = "depesche_template"


def postgres_bin_dir() -> Path:
    """Debian's newest installed server (another `pg_ctl` on PATH may belong to something else)."""
    found = sorted(
        (path.parent for path in POSTGRES_BINARIES.glob("*/bin/initdb")),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed under /usr/lib/postgresql: run `make test`, which "
            "installs the Debian package `postgresql`"
        )
    return found[-1]


class _DatabaseKeeper(threading.Thread):
    """Copies the template into fresh databases ahead of need and drops used ones, off the
    test's path: a copy takes a few hundred milliseconds, which would add up over the suite."""

    def __init__(self, dsn: str, ready: int = 2) -> None:
        super().__init__(name="test-databases", daemon=True)
        self._dsn = dsn
        self._ready: queue.Queue[str] = queue.Queue(maxsize=ready)
        self._used: queue.Queue[str] = queue.Queue()
        self._stopping = threading.Event()
        self._counter = itertools.count(1)
        self.error: BaseException | None = None

    def take(self) -> str:
        while True:
            try:
                return self._ready.get(timeout=0.5)
            except queue.Empty:
                if self.error is not None or not self.is_alive():
                    raise RuntimeError("creating test databases failed") from self.error

    def give_back(self, name: str) -> None:
        self._used.put(name)

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=30)

    def run(self) -> None:
        try:
            with psycopg.connect(self._dsn, autocommit=True) as admin:
                made: str | None = None
                while not self._stopping.is_set():
                    busy = False
                    try:
                        used = self._used.get_nowait()
                        # FORCE: worker processes of the test may still be connected.
                        admin.execute(f'DROP DATABASE IF EXISTS "{used}" WITH (FORCE)')
                        busy = True
                    except queue.Empty:
                        pass
                    if made is None and not self._ready.full():
                        made = f"test_{next(self._counter)}"
                        admin.execute(f'CREATE DATABASE "{made}" TEMPLATE "{TEMPLATE_DATABASE}"')
                        busy = True
                    if made is not None:
                        try:
                            self._ready.put_nowait(made)
                            made = None
                        except queue.Full:
                            pass
                    if not busy:
                        self._stopping.wait(0.01)
        except BaseException as exc:
            self.error = exc


class PostgresServer:
    """A throwaway PostgreSQL cluster in a temporary directory on a free loopback port.

    Every test gets its own database, copied from a template that was migrated once
    (``CREATE DATABASE … TEMPLATE`` copies files, far faster than running the migrations again).
    Durability is switched off: the cluster lives only as long as the test session.
    """

    def __init__(self, migrate: Callable[[str], None]) -> None:
        self.bin_dir = postgres_bin_dir()
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="depesche-pg-"))
        self.data = self.directory / "data"
        self._prefix = self._run_as()
        self._process: subprocess.Popen[bytes] | None = None
        self._keeper: _DatabaseKeeper | None = None
        try:
            self._start()
            with psycopg.connect(self.dsn("postgres"), autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{TEMPLATE_DATABASE}"')
            template = self.url(TEMPLATE_DATABASE)
            migrate(template)
            # CREATE DATABASE … TEMPLATE needs the template to have no open connection.
            get_engine(template).dispose()
            self._keeper = _DatabaseKeeper(self.dsn("postgres"))
            self._keeper.start()
        except BaseException:
            self.stop()
            raise

    def _run_as(self) -> list[str]:
        if os.geteuid() != 0:
            return []
        try:
            account = pwd.getpwnam(POSTGRES_USER)
        except KeyError as exc:
            raise RuntimeError(
                f"no system user {POSTGRES_USER!r} to run PostgreSQL as: install the Debian "
                "package `postgresql` (`make test` does)"
            ) from exc
        os.chown(self.directory, account.pw_uid, account.pw_gid)
        return [
            "setpriv",
            f"--reuid={account.pw_uid}",
            f"--regid={account.pw_gid}",
            "--init-groups",
            "--",
        ]

    def _start(self) -> None:
        subprocess.run(
            [
                *self._prefix,
                str(self.bin_dir / "initdb"),
                "--pgdata",
                str(self.data),
                "--username",
                "depesche",
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",
            ],
            cwd=self.directory,
            check=True,
            capture_output=True,
        )
        log = (self.directory / "postgres.log").open("wb")
        self._process = subprocess.Popen(
            [
                *self._prefix,
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.directory),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
            ],
            cwd=self.directory,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 30
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(
                    "PostgreSQL did not start:\n" + (self.directory / "postgres.log").read_text()
                )
            try:
                psycopg.connect(self.dsn("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def dsn(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user=depesche dbname={database}"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://depesche@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, migrated database for one test; its URL."""
        assert self._keeper is not None
        return self.url(self._keeper.take())

    def drop_database(self, url: str) -> None:
        """Close this process's connections; the database is dropped in the background."""
        assert self._keeper is not None
        get_engine(url).dispose()
        self._keeper.give_back(url.rsplit("/", 1)[1])

    def stop(self) -> None:
        if self._keeper is not None:
            self._keeper.stop()
            self._keeper = None
        if self._process is not None:
            # SIGINT is PostgreSQL's fast shutdown: it disconnects clients instead of waiting.
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        shutil.rmtree(self.directory, ignore_errors=True)
