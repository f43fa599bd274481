"""Per-host politeness across processes: a lease per host, in-process or shared through Redis.

The leases are tested on their own (in one process and against a real redis-server), then end to
end: two real `depesche worker` processes fetch feeds of two loopback hosts (127.0.0.1 and
127.0.0.2, one server recording what it is asked under each name), one Celery task per feed.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery

from config.celery_app import QUEUE
from content.feeds.leases import KEY_PREFIX, LocalLeases, RedisLeases, leases_for
from tests.content.feeds.conftest import Story, rss
from tests.content.feeds.servers import FeedServer, running_server
from tests.services import EXAMPLE, depesche_env

SUCCEEDED = re.compile(r"depesche\.fetch_feed\[[0-9a-f-]+\] succeeded")
HOSTS = ("127.0.0.1", "127.0.0.2")
FEEDS_PER_HOST = 5


# --- the leases on their own --------------------------------------------------------------------


def test_a_local_lease_is_refused_while_held_and_free_for_other_hosts():
    leases = LocalLeases()

    with (
        leases.hold("a.example.org", seconds=60) as first,
        leases.hold("a.example.org", seconds=60) as second,
        leases.hold("b.example.org", seconds=60) as other,
    ):
        assert (first, second, other) == (True, False, True)
    with leases.hold("a.example.org", seconds=60) as again:
        assert again


def test_a_local_lease_is_released_when_the_work_fails():
    leases = LocalLeases()

    with pytest.raises(RuntimeError), leases.hold("a.example.org", seconds=60):
        raise RuntimeError("the fetch failed")

    with leases.hold("a.example.org", seconds=60) as again:
        assert again


def test_a_redis_lease_is_shared_by_clients_and_released_after_use(redis_server: Any):
    one, two = RedisLeases.from_url(redis_server.url), RedisLeases.from_url(redis_server.url)

    with (
        one.hold("a.example.org", seconds=60) as first,
        two.hold("a.example.org", seconds=60) as second,
        two.hold("b.example.org", seconds=60) as other,
    ):
        assert (first, second, other) == (True, False, True)
    with two.hold("a.example.org", seconds=60) as again:
        assert again
    assert redis.Redis.from_url(redis_server.url).keys(f"{KEY_PREFIX}*") == []


def test_an_expired_redis_lease_never_frees_the_next_holders_lease(redis_server: Any):
    """A worker that died or stalled blocks its host only until its lease expires; when it
    comes back and releases, the lease another worker took since stays in place."""
    one, two, three = (RedisLeases.from_url(redis_server.url) for _ in range(3))
    probe = redis.Redis.from_url(redis_server.url)
    stalled = one.hold("a.example.org", seconds=0.2)

    assert stalled.__enter__()
    _wait(lambda: not probe.exists(f"{KEY_PREFIX}a.example.org"), "the stalled lease expires")
    with two.hold("a.example.org", seconds=60) as taken_over:
        assert taken_over
        stalled.__exit__(None, None, None)  # the stalled worker wakes up and releases, late
        with three.hold("a.example.org", seconds=60) as third:
            assert not third


def test_leases_follow_the_broker():
    assert isinstance(leases_for(None), LocalLeases)
    assert isinstance(leases_for("memory://"), LocalLeases)
    assert isinstance(leases_for("redis://127.0.0.1:1/0"), RedisLeases)


# --- two real workers, two hosts ----------------------------------------------------------------


def _workspace(root: Path, server: FeedServer) -> tuple[Path, dict[str, list[str]]]:
    """The example's initiatives and feeds, no campaigns, plus feeds on both loopback hosts."""
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("var", "out", "campaigns"))
    (root / "campaigns").mkdir()
    with (root / "depesche.toml").open("a", encoding="utf-8") as toml:
        toml.write('\n[fetch]\nallow_networks = ["127.0.0.1/32", "127.0.0.2/32"]\n')
    feeds: dict[str, list[str]] = {host: [] for host in HOSTS}
    entries = []
    for letter, host in zip("ab", HOSTS, strict=True):
        for number in range(FEEDS_PER_HOST):
            feed_id = f"host-{letter}-{number}"
            feeds[host].append(feed_id)
            entries.append(
                f"  - id: {feed_id}\n    url: {server.url(f'/{feed_id}.xml', host)}\n"
                f"    title: Meldungen {feed_id}\n    interval: 1h\n"
            )
    path = root / "feeds.yaml"
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n" + "".join(entries))
    return root, feeds


def _serve_feeds(server: FeedServer, feeds: dict[str, list[str]], story: Callable[..., Story]):
    number = 0
    for feed_ids in feeds.values():
        for feed_id in feed_ids:
            stories = [
                story(number + offset, title=f"Meldung {feed_id} {offset}") for offset in (1, 2)
            ]
            number += 10
            # Slow enough that two requests to one host would overlap if anything let them.
            server.serve(f"/{feed_id}.xml", rss(*stories), delay=0.3)


def _succeeded(logs: list[Path]) -> int:
    return sum(
        len(SUCCEEDED.findall(log.read_text(errors="replace"))) for log in logs if log.exists()
    )


def _wait(condition: Callable[[], bool], what: str = "condition", timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout}s: {what}")
        time.sleep(0.1)


def _hits(server: FeedServer, host: str, since: int = 0) -> int:
    return sum(
        1 for r in server.requests[since:] if r.headers.get("host", "").startswith(host + ":")
    )


def test_two_workers_fetch_one_feed_at_a_time_per_host_and_a_retry_after_holds_only_its_host(
    tmp_path: Path,
    database_url: str,
    redis_server: Any,
    start_worker: Any,
    story: Callable[..., Story],
):
    with running_server(HOSTS[0]) as server, running_server(HOSTS[1], server.port, server):
        workspace, feeds = _workspace(tmp_path / "workspace", server)
        _serve_feeds(server, feeds, story)
        env = depesche_env(
            broker_url=redis_server.url,
            database_url=database_url,
            workspace=str(workspace),
            out_dir=str(tmp_path / "out"),
        )
        workers = [start_worker(workspace, env, concurrency=2) for _ in range(2)]
        logs = [tmp_path / "worker-0.log", tmp_path / "worker-1.log"]
        client = Celery("politeness-test", broker=redis_server.url)
        all_feeds = [feed_id for feed_ids in feeds.values() for feed_id in feed_ids]

        for feed_id in all_feeds:
            client.send_task("depesche.fetch_feed", args=[feed_id], queue=QUEUE)
        _wait(lambda: _succeeded(logs) == len(all_feeds), "every feed fetched once")

        assert all(worker.poll() is None for worker in workers), "a worker died"
        for host in HOSTS:
            assert _hits(server, host) == FEEDS_PER_HOST
            assert server.most_in_flight[f"{host}:{server.port}"] == 1
        # Both hosts were being answered at the same moment: politeness is per host only.
        assert server.most_in_flight_total == 2

        # The second host now answers "come back in an hour"; the first stays well.
        for feed_id in feeds[HOSTS[1]]:
            route = server.routes[f"/{feed_id}.xml"]
            route.status, route.headers, route.delay = 503, {"Retry-After": "3600"}, 0.0
        asked_before = len(server.requests)
        for feed_id in all_feeds:
            client.send_task("depesche.fetch_feed", args=[feed_id], queue=QUEUE)
        _wait(lambda: _succeeded(logs) == 2 * len(all_feeds), "every feed tried again")

        assert _hits(server, HOSTS[1], since=asked_before) == 1
        assert _hits(server, HOSTS[0], since=asked_before) == FEEDS_PER_HOST
        client.close()
