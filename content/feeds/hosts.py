"""Fetch many feeds at once, but never more than one request at a time to the same host.

Feeds are grouped by host; a bounded pool of threads works through the groups, each group one
feed after another, so twenty hosts are fetched in parallel while a host with fifty feeds sees
them one by one. When a host answers "come back later" (``Retry-After``), the rest of its group
is not requested at all in this run. Threads suit the job: the work is waiting on sockets, and
a slow or trickling server only ever holds up its own host's group.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")
R = TypeVar("R")


def host_key(url: str, position: int) -> str:
    """The politeness key of a feed URL: its host name; local files each get a key of their own."""
    parts = urlsplit(url)
    if parts.scheme.lower() in ("http", "https") and parts.hostname:
        return parts.hostname.lower().rstrip(".")
    return f"local:{position}"


@dataclass(frozen=True)
class HostStopped(Generic[R]):
    """A job not run because an earlier job of its host returned ``result``, asking us to wait."""

    result: R


def run_politely(
    jobs: Sequence[tuple[str, T]],
    work: Callable[[T], R],
    *,
    workers: int,
    stops_host: Callable[[R], bool],
) -> list[Future[R | HostStopped[R]]]:
    """Run ``work`` on every job's payload; one future per job, in the order of ``jobs``.

    Jobs of one host run in their given order, one after another. When ``stops_host`` says a
    result asks the host to be left alone, the host's remaining jobs resolve to
    :class:`HostStopped` without running. Exceptions from ``work`` land in that job's future.
    """
    futures: list[Future[R | HostStopped[R]]] = [Future() for _ in jobs]
    groups: dict[str, list[int]] = {}
    for position, (host, _) in enumerate(jobs):
        groups.setdefault(host, []).append(position)
    pending = list(groups.values())  # ordered by each host's first job
    lock = threading.Lock()

    def next_group() -> list[int] | None:
        with lock:
            return pending.pop(0) if pending else None

    def run_group(positions: list[int]) -> None:
        stopped: R | None = None
        for position in positions:
            future = futures[position]
            if stopped is not None:
                future.set_result(HostStopped(stopped))
                continue
            try:
                result = work(jobs[position][1])
            except BaseException as exc:  # the job's failure is its future's, not the pool's
                future.set_exception(exc)
                continue
            future.set_result(result)
            if stops_host(result):
                stopped = result

    def worker() -> None:
        while (group := next_group()) is not None:
            run_group(group)

    threads = [
        threading.Thread(target=worker, name=f"feed-fetch-{number}", daemon=True)
        for number in range(max(1, min(workers, len(groups))))
    ]
    for thread in threads:
        thread.start()
    return futures
