"""The crash case with real processes: a worker dies after the SMTP server took the message but
before the delivery was recorded.

Real redis-server, a real ``depesche worker`` (prefork: a main process and its child), aiosmtpd
in this process. The sink's DATA handler stores the message and then SIGKILLs the worker's main
process and its child by PID, before the worker can read the reply: the message has left, the
row still says ``sending``. After the lease the release step marks it ``unknown``; it is listed
by ``depesche deliveries --state unknown --json``, not sent again by later releases, and sent
once more only after ``depesche deliveries resend ID``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from celery import Celery
from sqlalchemy import select

from config.db import session_scope
from tests.mail_sink import MailSink, _Handler
from tests.services import ROOT, depesche_command, depesche_env
from tests.workers.delivery_support import (
    CAMPAIGN,
    DELIVERABLE,
    Lists,
    add_piece,
    approve,
    subscribers,
    with_channels,
)
from workers.delivery_runtime import route_pending
from workers.models import Delivery

LEASE_SECONDS = 2


class _KillingHandler(_Handler):
    def __init__(self, sink: KillingSink) -> None:
        super().__init__(sink)
        self.killing_sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        self.killing_sink.on_data()  # after the message is stored, before the client hears 250
        return reply


class KillingSink(MailSink):
    """A mail sink that runs ``kill`` once, right after it stored a message."""

    kill: Callable[[], None] | None = None

    def on_data(self) -> None:
        kill, self.kill = self.kill, None
        if kill is not None:
            kill()

    def start(self) -> KillingSink:
        from aiosmtpd.controller import Controller

        self._controller = Controller(
            _KillingHandler(self), hostname="127.0.0.1", port=self.port, **self._options
        )
        self._controller.start()
        return self


def _descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = (task / "children").read_text().split()
        for child in map(int, children):
            found += [child, *_descendants(child)]
    return found


def _kill_tree(pid: int) -> None:
    """SIGKILL the worker's main process and the pool child running the task."""
    children = _descendants(pid)
    os.kill(pid, signal.SIGKILL)
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


def _wait(condition: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _rows(database_url: str) -> list[tuple[int, str, int]]:
    with session_scope(database_url) as session:
        return [
            (d.id, d.status, d.attempts)
            for d in session.scalars(select(Delivery).order_by(Delivery.id))
        ]


def _depesche(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        depesche_command(*args), env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_worker_killed_after_smtp_accepted_sends_once_until_operator_resends(
    tmp_path: Path,
    database_url: str,
    example_workspace: Path,
    redis_server: Any,
    start_worker: Any,
) -> None:
    sink = KillingSink().start()
    try:
        with_channels(example_workspace, CAMPAIGN, DELIVERABLE, ["folder", "email"])
        now = datetime.now(UTC)
        with session_scope(database_url) as session:
            key = add_piece(session, now=now, state="draft").key
        approve(database_url, key, now)
        lists = Lists(subscribers=subscribers(1))
        assert route_pending(database_url, example_workspace, now=now, recipients=lists) == 1

        env = depesche_env(
            broker_url=redis_server.url,
            database_url=database_url,
            workspace=str(example_workspace),
            smtp_url=sink.url,
            delivery_lease=str(LEASE_SECONDS),
        )
        worker = start_worker(example_workspace, env, concurrency=1)
        sink.kill = lambda: _kill_tree(worker.pid)
        broker = Celery("test", broker=redis_server.url)
        broker.send_task("depesche.release_deliveries", queue="depesche")

        _wait(lambda: len(sink.received()) == 1, "the message at the SMTP server")
        worker.wait(timeout=30)
        [(delivery_id, status, attempts)] = _rows(database_url)
        assert (status, attempts) == ("sending", 1)  # left, but never recorded

        time.sleep(LEASE_SECONDS + 0.5)  # the lease of the dead worker runs out
        _depesche(env, "deliveries", "release", "-w", str(example_workspace))
        assert _rows(database_url) == [(delivery_id, "unknown", 1)]
        listed = [
            json.loads(line)
            for line in _depesche(
                env, "deliveries", "-w", str(example_workspace), "--state", "unknown", "--json"
            ).splitlines()
        ]
        assert [(d["id"], d["status"], d["target"]) for d in listed] == [
            (delivery_id, "unknown", "subscriber:0")
        ]

        # Nobody sends it again on their own: not a later release, not a second worker.
        _depesche(env, "deliveries", "release", "-w", str(example_workspace))
        assert len(sink.received()) == 1

        _depesche(env, "deliveries", "-w", str(example_workspace), "resend", str(delivery_id))
        _depesche(env, "deliveries", "release", "-w", str(example_workspace))
        received = sink.received()
        assert len(received) == 2
        first, again = (r.message["Message-ID"] for r in received)
        assert first == again  # the receiver can drop the repeat the operator chose to send
        assert _rows(database_url) == [(delivery_id, "sent", 2)]
    finally:
        sink.stop()
