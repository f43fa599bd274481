"""One request at a time per feed host, across threads and across worker machines.

In one process (``depesche ingest``) :mod:`content.feeds.hosts` keeps a host's feeds in one
thread. In distributed mode every feed is a Celery task of its own, and two workers would happily
fetch two feeds of one host at the same moment. So a task first takes the host's lease, and holds
it while it fetches, parses and stores the feed, so that the next task for the host also sees a
``Retry-After`` the host answered (it is stored with the feed's health, see
:mod:`content.feeds.health`). A task that finds its host busy does not wait for it: it gives its
worker slot back and is retried shortly (see ``workers.tasks.fetch_feed``).

The lease lives in Redis when there is a broker (redis-py's :class:`~redis.lock.Lock`: ``SET NX
PX`` with a random token, released by a compare-and-delete script, so a worker whose lease ran
out never frees a lease another worker has taken since). It expires by itself, so a worker that
dies mid-fetch blocks its host only until then. Without Redis, a process-wide lock per host does
the same job for tasks that run in threads of one process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from typing import Protocol

import redis
from redis.exceptions import LockError

log = logging.getLogger(__name__)

KEY_PREFIX = "depesche:host-lease:"


class HostBusy(Exception):
    """Another worker is talking to ``host`` right now: try this feed again shortly."""

    def __init__(self, host: str) -> None:
        super().__init__(f"{host}: another request to this host is under way")
        self.host = host


class HostLeases(Protocol):
    """Leases by host name; ``hold`` yields whether the lease was taken (it never waits)."""

    def hold(self, host: str, *, seconds: float) -> AbstractContextManager[bool]: ...


class LocalLeases:
    """Leases for the threads of one process: a lock per host, taken without waiting.

    ``seconds`` is not needed here: a thread that holds a lock releases it, even on an error,
    and a process that dies takes its locks with it.
    """

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, host: str, *, seconds: float) -> Iterator[bool]:
        with self._guard:
            lock = self._locks.setdefault(host, threading.Lock())
        if not lock.acquire(blocking=False):
            yield False
            return
        try:
            yield True
        finally:
            lock.release()


class RedisLeases:
    """Leases shared by every worker through Redis; each expires after ``seconds`` at the latest."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    @classmethod
    def from_url(cls, url: str) -> RedisLeases:
        return cls(redis.Redis.from_url(url))

    @contextmanager
    def hold(self, host: str, *, seconds: float) -> Iterator[bool]:
        lock = self._client.lock(
            f"{KEY_PREFIX}{host}", timeout=seconds, blocking=False, thread_local=False
        )
        if not lock.acquire(blocking=False):
            yield False
            return
        try:
            yield True
        finally:
            try:
                lock.release()
            except LockError:
                # The lease ran out while we held it (a very slow feed): another worker may
                # hold it now, and the compare-and-delete left that lease alone.
                log.warning("host lease for %s expired before it was released", host)


LOCAL_LEASES = LocalLeases()


@lru_cache(maxsize=4)
def _redis_leases(url: str) -> RedisLeases:
    """One client (and connection pool) per broker URL and process; redis-py reconnects after
    a fork by itself."""
    return RedisLeases.from_url(url)


def leases_for(broker_url: str | None) -> HostLeases:
    """The leases every worker of this deployment shares: Redis when the broker is Redis,
    otherwise the process-wide locks."""
    if broker_url and broker_url.split(":", 1)[0].lower() in ("redis", "rediss"):
        return _redis_leases(broker_url)
    return LOCAL_LEASES
