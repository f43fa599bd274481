"""Run every feed through fetch, parse, normalise and store, and remember how each went.

This is the only module that strings the stages of :mod:`content.feeds` together. The network
and parsing happen outside any database transaction (a slow feed must not hold a write lock);
then one transaction per feed stores its items, their events and its fetch state together, so a
crash never leaves items without their ``item.published`` event or validators without items.
A feed that fails is recorded as failing and the batch goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from campaigns.schema import Feed, FetchSection
from config.db import session_scope
from content.feeds.fetch import FetchError, FetchResult
from content.feeds.fetch import fetch as fetch_feed
from content.feeds.normalise import NormalisedItem, normalise
from content.feeds.parse import ParseError, parse
from content.feeds.store import store
from content.models import FeedState

log = logging.getLogger(__name__)

Status = Literal["ok", "not_modified", "error"]


@dataclass(frozen=True)
class FeedOutcome:
    """How one feed's ingest went; ``new`` and ``updated`` hold item ids."""

    feed_id: str
    status: Status
    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class _Fetched:
    """The I/O half of a feed's ingest, ready to be written in one transaction."""

    result: FetchResult
    items: list[NormalisedItem]


def ingest(
    database_url: str,
    feeds: Sequence[Feed],
    *,
    base_dir: Path,
    now: datetime,
    fetch: FetchSection,
    progress: Callable[[str], None] | None = None,
) -> list[FeedOutcome]:
    """Ingest ``feeds`` in order; relative feed paths are read from ``base_dir`` (the workspace).

    Returns one outcome per feed. Running it again with unchanged feeds adds nothing: servers
    answer 304, and anything they send again is recognised by GUID and canonical URL.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    outcomes = []
    for feed in feeds:
        outcome = _ingest_feed(database_url, feed, base_dir=base_dir, now=now, limits=fetch)
        if progress is not None:
            progress(_describe(outcome))
        outcomes.append(outcome)
    return outcomes


def _ingest_feed(
    database_url: str, feed: Feed, *, base_dir: Path, now: datetime, limits: FetchSection
) -> FeedOutcome:
    etag, last_modified = _validators(database_url, feed)
    try:
        fetched = _fetch_and_normalise(
            feed,
            base_dir=base_dir,
            etag=etag,
            last_modified=last_modified,
            now=now,
            limits=limits,
        )
    except (FetchError, ParseError) as exc:
        return _record_failure(database_url, feed, str(exc), now)
    except Exception as exc:  # a bug or a feed nobody anticipated: this feed fails, not the batch
        log.exception("unexpected error while ingesting feed %s", feed.id)
        return _record_failure(database_url, feed, f"{feed.url}: unexpected {exc!r}", now)

    try:
        with session_scope(database_url) as session:
            state = _state(session, feed)
            state.last_fetched_at = now
            state.last_success_at = now
            state.last_error = None
            state.consecutive_failures = 0
            state.etag = fetched.result.etag
            state.last_modified = fetched.result.last_modified
            if fetched.result.not_modified:
                return FeedOutcome(feed_id=feed.id, status="not_modified")
            result = store(session, feed.id, fetched.items, now)
    except SQLAlchemyError as exc:
        # E.g. another worker stored the same story a moment earlier: the next run picks it up.
        log.warning("storing feed %s failed: %s", feed.id, exc)
        return _record_failure(database_url, feed, f"{feed.url}: storing failed: {exc}", now)
    return FeedOutcome(feed_id=feed.id, status="ok", new=result.new, updated=result.updated)


def _fetch_and_normalise(
    feed: Feed,
    *,
    base_dir: Path,
    etag: str | None,
    last_modified: str | None,
    now: datetime,
    limits: FetchSection,
) -> _Fetched:
    result = fetch_feed(
        feed.url,
        base_dir=base_dir,
        etag=etag,
        last_modified=last_modified,
        timeout=limits.timeout,
        max_bytes=limits.max_bytes,
    )
    if result.not_modified:
        return _Fetched(result=result, items=[])
    parsed = parse(result.content, url=result.url, headers=result.headers)
    if parsed.problem:
        log.warning("feed %s: %s", feed.id, parsed.problem)
    items = [
        normalise(entry, feed_id=feed.id, feed_tags=list(feed.tags), now=now)
        for entry in parsed.entries
    ]
    return _Fetched(result=result, items=items)


def _validators(database_url: str, feed: Feed) -> tuple[str | None, str | None]:
    """Stored ETag and Last-Modified, unless the feed's URL changed since they were stored."""
    with session_scope(database_url) as session:
        state = session.get(FeedState, feed.id)
        if state is None or state.url != feed.url:
            return None, None
        return state.etag, state.last_modified


def _state(session: Session, feed: Feed) -> FeedState:
    state = session.get(FeedState, feed.id)
    if state is None:
        state = FeedState(id=feed.id, url=feed.url, consecutive_failures=0)
        session.add(state)
    elif state.url != feed.url:
        state.url = feed.url
        state.etag = None
        state.last_modified = None
    return state


def _record_failure(database_url: str, feed: Feed, message: str, now: datetime) -> FeedOutcome:
    """Keep the validators (the stored copy is still valid) and count the failure."""
    with session_scope(database_url) as session:
        state = _state(session, feed)
        state.last_fetched_at = now
        state.last_error = message
        state.consecutive_failures = (state.consecutive_failures or 0) + 1
    return FeedOutcome(feed_id=feed.id, status="error", error=message)


def _describe(outcome: FeedOutcome) -> str:
    if outcome.status == "error":
        return f"{outcome.feed_id}: error: {outcome.error}"
    if outcome.status == "not_modified":
        return f"{outcome.feed_id}: not modified"
    return f"{outcome.feed_id}: {len(outcome.new)} new, {len(outcome.updated)} updated"
