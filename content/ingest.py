"""Run feeds through fetch, parse, normalise, de-duplicate and store, and keep their health.

This is the only module that strings the stages of :mod:`content.feeds` together. Fetching runs
concurrently in threads (:mod:`content.feeds.hosts`: bounded, one request at a time per host);
parsing runs in those threads or, for large batches on machines with CPUs to spare, in worker
processes (:mod:`content.feeds.prepare`); all of it outside any database transaction, so a slow
feed never holds a write lock. Results are then stored in the order the feeds were given, those
that are ready together in one transaction: items, their events and the feeds' state commit
together (a crash never leaves items without their ``item.published`` event or validators
without items), and which copy of a story counts as the first does not depend on which server
answered faster. A feed that fails is recorded as failing, with a backoff, and the batch goes
on.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from campaigns.schema import Feed, FetchSection
from campaigns.workspace import Workspace
from config.db import session_scope
from config.models import record_event
from content.feeds.addresses import Resolver, system_resolver
from content.feeds.dedupe import NearDuplicateIndex
from content.feeds.fetch import Fetcher, FetchError, FetchLimits, FetchResult
from content.feeds.health import (
    Health,
    HealthPolicy,
    after_failure,
    after_success,
    deferred,
    host_hold,
    retry_at,
    skip_reason,
)
from content.feeds.hosts import HostStopped, host_key, run_politely
from content.feeds.leases import LOCAL_LEASES, HostBusy, HostLeases
from content.feeds.normalise import NormalisedItem
from content.feeds.parse import ParseError
from content.feeds.prepare import Prepared, prepare
from content.feeds.store import load_index, store
from content.models import FeedState

log = logging.getLogger(__name__)

Status = Literal["ok", "not_modified", "error", "skipped", "deferred"]
FEED_PAUSED = "feed.paused"
# From this many feeds on, parsing runs in worker processes: starting them costs about a second.
PROCESS_POOL_FROM = 24
# ... and only on a machine with this many CPUs. With two, one is busy fetching and storing, and
# handing feeds to a second process and items back cost more than it parses: measured on two
# shared cores (bench/feeds.py, 200 feeds), parsing in the fetching threads took 22 s where the
# pool took 66 s for teaser feeds, and 19.5 s against 39 s for WordPress-shaped ones.
PROCESS_POOL_FROM_CPUS = 4
# Seconds a host lease outlives the fetch's own deadline: parsing and storing happen under it.
LEASE_MARGIN_SECONDS = 60.0
# Results that are ready together are stored in one transaction: a commit waits for the disk.
GROUP_COMMIT = 50


@dataclass(frozen=True)
class FeedOutcome:
    """How one feed's ingest went; ``new``, ``updated`` and ``clustered`` hold item ids
    (``clustered``: the new items that joined the near-duplicate cluster of a known story).

    ``problem`` names what was wrong with a feed that was still read (ill-formed XML, a wrong
    encoding label, dates in the future); ``error`` why a feed could not be read at all, or why
    it was skipped or deferred.
    """

    feed_id: str
    status: Status
    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    clustered: list[str] = field(default_factory=list)
    error: str | None = None
    problem: str | None = None
    paused: bool = False


@dataclass(frozen=True)
class _Plan:
    """What to fetch for one feed, decided from its stored state before any I/O."""

    feed: Feed
    url: str
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True)
class _Fetched:
    """The I/O half of a feed's ingest, ready to be written in one transaction."""

    result: FetchResult
    items: list[NormalisedItem]
    problem: str | None


@dataclass(frozen=True)
class _Failed:
    message: str
    retry_after: str | None = None


Result = _Fetched | _Failed | HostStopped[_Fetched | _Failed]


def ingest(
    database_url: str,
    feeds: Sequence[Feed],
    *,
    base_dir: Path,
    now: datetime,
    fetch: FetchSection,
    progress: Callable[[str], None] | None = None,
    resolver: Resolver = system_resolver,
    parse_processes: int | None = None,
) -> list[FeedOutcome]:
    """Ingest ``feeds``; relative feed paths are read from ``base_dir`` (the workspace).

    Returns one outcome per feed, in the given order. Running it again with unchanged feeds adds
    nothing: servers answer 304, and anything they send again is recognised by GUID and
    canonical URL. Paused feeds and feeds backing off after failures are skipped.
    ``parse_processes`` sets the worker processes that parse (0: parse in the fetching
    threads); by default there is one per CPU when at least ``PROCESS_POOL_FROM`` feeds come in
    and the machine has at least ``PROCESS_POOL_FROM_CPUS`` CPUs.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    plans, skipped = _plan(database_url, feeds, now)
    limits = FetchLimits(
        timeout=fetch.timeout, total_timeout=fetch.total_timeout, max_bytes=fetch.max_bytes
    )
    outcomes: dict[str, FeedOutcome] = dict(skipped)
    with (
        Fetcher(
            limits,
            allow_networks=fetch.allow_networks,
            resolver=resolver,
            connections=fetch.concurrency,
        ) as fetcher,
        _parse_pool(len(plans), parse_processes) as pool,
    ):
        futures = run_politely(
            [(host_key(plan.url, position), plan) for position, plan in enumerate(plans)],
            lambda plan: _fetch_and_prepare(fetcher, plan, base_dir=base_dir, now=now, pool=pool),
            workers=fetch.concurrency,
            stops_host=lambda result: isinstance(result, _Failed) and bool(result.retry_after),
        )
        writer = _Writer(database_url, now, fetch)
        for group in _ready_groups(list(zip(plans, futures, strict=True))):
            for outcome in writer.write_group(group):
                outcomes[outcome.feed_id] = outcome
                if progress is not None:
                    progress(describe(outcome))
    ordered = [outcomes[feed.id] for feed in feeds]
    if progress is not None:
        for outcome in ordered:
            if outcome.status == "skipped":
                progress(describe(outcome))
    return ordered


def ingest_feed(
    database_url: str,
    workspace: Workspace,
    feed_id: str,
    *,
    now: datetime,
    resolver: Resolver = system_resolver,
    leases: HostLeases = LOCAL_LEASES,
) -> FeedOutcome:
    """Ingest the one feed ``feed_id`` of ``workspace``: what a worker does for a beat entry.

    The feed's host lease (:mod:`content.feeds.leases`) is held from planning to storing, so
    no other worker requests the host meanwhile, and the next one sees a ``Retry-After`` this
    fetch was given. Raises :class:`HostBusy` when another worker holds the lease.
    """
    feed = workspace.feeds.get(feed_id)
    if feed is None:
        return FeedOutcome(
            feed_id=feed_id,
            status="error",
            error=f"{feed_id}: not in {workspace.root / 'feeds.yaml'} (any more)",
        )
    fetch = workspace.config.fetch
    host = _host(_fetch_url(database_url, feed))
    with ExitStack() as stack:
        if host is not None:
            # Long enough for the whole fetch (bounded by total_timeout) plus parsing and storing.
            seconds = fetch.total_timeout + LEASE_MARGIN_SECONDS
            if not stack.enter_context(leases.hold(host, seconds=seconds)):
                raise HostBusy(host)
        (outcome,) = ingest(
            database_url, [feed], base_dir=workspace.root, now=now, fetch=fetch, resolver=resolver
        )
    return outcome


def _fetch_url(database_url: str, feed: Feed) -> str:
    """Where the feed will be fetched from: a permanent redirect may have moved it."""
    with session_scope(database_url) as session:
        state = session.get(FeedState, feed.id)
        if state is None or state.url != feed.url:
            return feed.url
        return state.fetch_url or feed.url


def _plan(
    database_url: str, feeds: Sequence[Feed], now: datetime
) -> tuple[list[_Plan], dict[str, FeedOutcome]]:
    """Which feeds to fetch, from where, with which validators; and which to skip, why."""
    plans: list[_Plan] = []
    skipped: dict[str, FeedOutcome] = {}
    with session_scope(database_url) as session:
        states = {state.id: state for state in session.query(FeedState)}
        # Hosts that answered Retry-After (in this process or another worker's) are left alone.
        held: dict[str, datetime] = {}
        for stored in states.values():
            until = host_hold(_health(stored), now)
            if until is not None and stored.host:
                held[stored.host] = max(until, held.get(stored.host, until))
        for feed in feeds:
            state = states.get(feed.id)
            fresh = state is None or state.url != feed.url
            url = feed.url if fresh or state is None else state.fetch_url or feed.url
            reason = None if fresh or state is None else skip_reason(_health(state), now)
            until = held.get(_host(url) or "")
            if reason is None and until is not None:
                reason = f"its host asked to wait until {until.isoformat()}"
            if reason is not None:
                skipped[feed.id] = FeedOutcome(feed_id=feed.id, status="skipped", error=reason)
            elif fresh or state is None:
                # New, or its URL changed in feeds.yaml: a new feed, with a clean slate.
                plans.append(_Plan(feed, feed.url, None, None))
            else:
                plans.append(_Plan(feed, url, state.etag, state.last_modified))
    return plans, skipped


def _fetch_and_prepare(
    fetcher: Fetcher, plan: _Plan, *, base_dir: Path, now: datetime, pool: _LazyPool | None
) -> _Fetched | _Failed:
    """Fetch one feed, then parse and normalise it; runs in a fetching thread, no database."""
    feed = plan.feed
    try:
        result = fetcher.fetch(
            plan.url, base_dir=base_dir, etag=plan.etag, last_modified=plan.last_modified
        )
        if result.not_modified:
            return _Fetched(result=result, items=[], problem=None)
        task = partial(
            prepare,
            result.content,
            url=result.url,
            headers=result.headers,
            feed_id=feed.id,
            feed_tags=list(feed.tags),
            now=now,
        )
        prepared = task() if pool is None else pool.run(task)
    except FetchError as exc:
        return _Failed(_named(feed, str(exc)), exc.retry_after)
    except ParseError as exc:
        return _Failed(_named(feed, str(exc)))
    except Exception as exc:  # a bug or a feed nobody anticipated: this feed fails, not the batch
        log.exception("unexpected error while reading feed %s", feed.id)
        return _Failed(f"{feed.id}: {plan.url}: unexpected {exc!r}")
    if prepared.problem:
        log.warning("feed %s: %s", feed.id, prepared.problem)
    return _Fetched(result=result, items=prepared.items, problem=prepared.problem)


class _LazyPool:
    """Worker processes for parsing, started on the first feed that has anything to parse.

    A warm run, where every server answers 304, then never pays for starting them. They are
    started by a fork server, never forked from this process, whose fetching threads and
    database connections must not be copied mid-use.
    """

    def __init__(self, processes: int) -> None:
        self._processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def run(self, task: Callable[[], Prepared]) -> Prepared:
        with self._lock:
            if self._pool is None:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(["content.feeds.prepare"])
                self._pool = ProcessPoolExecutor(max_workers=self._processes, mp_context=context)
            pool = self._pool
        return pool.submit(task).result()

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()


@contextmanager
def _parse_pool(feeds: int, processes: int | None) -> Iterator[_LazyPool | None]:
    """A pool when there is enough to parse and this process may have children, else None."""
    if processes is None:
        cpus = os.cpu_count() or 1
        many = feeds >= PROCESS_POOL_FROM and cpus >= PROCESS_POOL_FROM_CPUS
        processes = cpus if many else 0
    if processes <= 0 or multiprocessing.current_process().daemon:
        yield None
        return
    pool = _LazyPool(processes)
    try:
        yield pool
    finally:
        pool.shutdown()


def _ready_groups(
    pending: list[tuple[_Plan, Future[Result]]],
) -> Iterator[list[tuple[_Plan, Result]]]:
    """The results in order, each group the next result plus those right behind it that are
    ready too (at most ``GROUP_COMMIT``), so one commit can store them together."""
    position = 0
    while position < len(pending):
        group = [(pending[position][0], pending[position][1].result())]
        position += 1
        while position < len(pending) and len(group) < GROUP_COMMIT:
            plan, future = pending[position]
            if not future.done():
                break
            group.append((plan, future.result()))
            position += 1
        yield group


def _named(feed: Feed, message: str) -> str:
    """Errors name the feed as well as the URL: the URL alone may be one of many."""
    return f"{feed.id}: {message}"


class _Writer:
    """Stores fetched feeds, sharing one near-duplicate index across the run.

    A group of feeds is stored in one transaction; if that fails, each feed of the group is
    stored in a transaction of its own, so one feed's trouble (another worker storing the same
    story a moment earlier) costs only that feed, which is recorded as failed.
    """

    def __init__(self, database_url: str, now: datetime, fetch: FetchSection) -> None:
        self.database_url = database_url
        self.now = now
        self.fetch = fetch
        self._index: NearDuplicateIndex | None = None

    def write_group(self, group: list[tuple[_Plan, Result]]) -> list[FeedOutcome]:
        try:
            with session_scope(self.database_url) as session:
                # One query for the group's states; each feed then finds its own in the session
                # (which holds them only as long as someone does: hence the name).
                ids = [plan.feed.id for plan, _ in group]
                loaded = list(session.scalars(select(FeedState).where(FeedState.id.in_(ids))))
                outcomes = [self._write(session, plan, fetched) for plan, fetched in group]
                del loaded
                return outcomes
        except SQLAlchemyError as exc:
            if len(group) > 1:
                log.info("storing %d feeds together failed, one by one now: %s", len(group), exc)
            # The index may hold items that were rolled back, so it is loaded afresh.
            self._index = None
        outcomes = []
        for plan, fetched in group:
            try:
                with session_scope(self.database_url) as session:
                    outcomes.append(self._write(session, plan, fetched))
            except SQLAlchemyError as exc:
                log.warning("storing feed %s failed: %s", plan.feed.id, exc)
                self._index = None
                message = f"{plan.feed.id}: {plan.url}: storing failed: {exc}"
                with session_scope(self.database_url) as session:
                    outcomes.append(self._fail(session, plan, message, None))
        return outcomes

    def _write(self, session: Session, plan: _Plan, fetched: Result) -> FeedOutcome:
        if isinstance(fetched, HostStopped):
            return self._defer(session, plan, fetched.result)
        if isinstance(fetched, _Failed):
            return self._fail(session, plan, fetched.message, fetched.retry_after)
        return self._store(session, plan, fetched)

    def _policy(self, feed: Feed) -> HealthPolicy:
        return HealthPolicy(feed.interval, self.fetch.pause_after, self.fetch.max_backoff)

    def _store(self, session: Session, plan: _Plan, fetched: _Fetched) -> FeedOutcome:
        feed, result = plan.feed, fetched.result
        status: Status = "not_modified" if result.not_modified else "ok"
        state = _state(session, feed)
        _put_health(state, after_success(self.now, self._policy(feed), status))
        state.last_fetched_at = self.now
        state.last_success_at = self.now
        state.last_error = None
        state.host = _host(plan.url)
        if result.permanent_url:
            state.fetch_url = result.permanent_url
            state.host = _host(result.permanent_url)
        if result.not_modified:
            state.etag = result.etag or state.etag
            state.last_modified = result.last_modified or state.last_modified
            return FeedOutcome(feed_id=feed.id, status="not_modified")
        state.etag = result.etag
        state.last_modified = result.last_modified
        state.last_problem = fetched.problem
        if self._index is None:
            self._index = load_index(session, self.now)
        stored = store(session, feed.id, fetched.items, self.now, index=self._index)
        return FeedOutcome(
            feed_id=feed.id,
            status="ok",
            new=stored.new,
            updated=stored.updated,
            clustered=stored.clustered,
            problem=fetched.problem,
        )

    def _fail(
        self, session: Session, plan: _Plan, message: str, retry_after: str | None
    ) -> FeedOutcome:
        """Count the failure and back off; keep the validators (the stored copy is still valid)."""
        feed = plan.feed
        state = _state(session, feed)
        was_paused = state.paused_at is not None
        health = after_failure(_health(state), self.now, self._policy(feed), retry_after)
        _put_health(state, health)
        state.last_fetched_at = self.now
        state.last_error = message
        state.host = _host(plan.url)
        paused = health.paused_at is not None and not was_paused
        if paused:
            record_event(
                session,
                FEED_PAUSED,
                f"{FEED_PAUSED}:{feed.id}:{self.now.isoformat()}",
                {
                    "feed_id": feed.id,
                    "url": feed.url,
                    "failures": health.consecutive_failures,
                    "error": message,
                },
                self.now,
            )
        return FeedOutcome(feed_id=feed.id, status="error", error=message, paused=paused)

    def _defer(self, session: Session, plan: _Plan, cause: _Fetched | _Failed) -> FeedOutcome:
        """The host asked us to wait, answering for another of its feeds: not this feed's fault."""
        feed = plan.feed
        raw = cause.retry_after if isinstance(cause, _Failed) else None
        until = retry_at(raw, self.now, self.fetch.max_backoff) or self.now
        message = f"{feed.id}: {plan.url}: host asked to retry after {until.isoformat()}"
        state = _state(session, feed)
        _put_health(state, deferred(_health(state), until))
        state.host = _host(plan.url)
        return FeedOutcome(feed_id=feed.id, status="deferred", error=message)


def _health(state: FeedState) -> Health:
    return Health(
        consecutive_failures=state.consecutive_failures or 0,
        next_fetch_at=state.next_fetch_at,
        paused_at=state.paused_at,
        last_status=state.last_status,
        retry_after_at=state.retry_after_at,
    )


def _put_health(state: FeedState, health: Health) -> None:
    state.consecutive_failures = health.consecutive_failures
    state.next_fetch_at = health.next_fetch_at
    state.paused_at = health.paused_at
    state.last_status = health.last_status
    state.retry_after_at = health.retry_after_at


def _host(url: str) -> str | None:
    key = host_key(url, 0)
    return None if key.startswith("local:") else key


def _state(session: Session, feed: Feed) -> FeedState:
    """The feed's stored state; a URL changed in feeds.yaml starts it afresh."""
    state = session.get(FeedState, feed.id)
    if state is None:
        state = FeedState(id=feed.id, url=feed.url, consecutive_failures=0)
        session.add(state)
    elif state.url != feed.url:
        state.url = feed.url
        state.fetch_url = None
        state.etag = None
        state.last_modified = None
        state.consecutive_failures = 0
        state.next_fetch_at = None
        state.paused_at = None
        state.retry_after_at = None
        state.last_error = None
        state.last_problem = None
    return state


def describe(outcome: FeedOutcome) -> str:
    """One line per feed for progress output."""
    if outcome.status in ("error", "skipped", "deferred"):
        reason = (outcome.error or "").removeprefix(f"{outcome.feed_id}: ")
        paused = " (paused)" if outcome.paused else ""
        return f"{outcome.feed_id}: {outcome.status}: {reason}{paused}"
    if outcome.status == "not_modified":
        return f"{outcome.feed_id}: not modified"
    line = f"{outcome.feed_id}: {len(outcome.new)} new, {len(outcome.updated)} updated"
    if outcome.clustered:
        line += f" ({len(outcome.clustered)} of the new tell a known story)"
    return line
