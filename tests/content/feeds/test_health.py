"""Feed health: backoff after failures, Retry-After, pause with an event, and what is skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from campaigns.schema import Feed, FetchSection
from config.db import session_scope
from config.models import Event
from content.feeds.health import (
    Health,
    HealthPolicy,
    after_failure,
    after_success,
    backoff,
    retry_at,
    skip_reason,
)
from content.ingest import ingest
from content.models import FeedState
from tests.content.feeds.servers import FeedServer

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
POLICY = HealthPolicy(interval=timedelta(hours=1), pause_after=4, max_backoff=timedelta(hours=6))


@pytest.mark.parametrize(
    ("failures", "wait"),
    [
        (1, timedelta(hours=1)),
        (2, timedelta(hours=2)),
        (3, timedelta(hours=4)),
        (9, timedelta(hours=6)),
    ],
)
def test_backoff_doubles_up_to_the_limit(failures: int, wait: timedelta):
    assert backoff(failures, POLICY) == wait


def test_failure_backs_off_and_pauses_at_the_limit():
    health = Health()
    for expected_wait in (timedelta(hours=1), timedelta(hours=2), timedelta(hours=4)):
        health = after_failure(health, NOW, POLICY)
        assert health.paused_at is None
        assert health.next_fetch_at == NOW + expected_wait

    health = after_failure(health, NOW, POLICY)

    assert (health.consecutive_failures, health.paused_at, health.next_fetch_at) == (4, NOW, None)


def test_retry_after_longer_than_the_backoff_wins():
    assert after_failure(Health(), NOW, POLICY, "7200").next_fetch_at == NOW + timedelta(hours=2)
    assert after_failure(Health(), NOW, POLICY, "60").next_fetch_at == NOW + timedelta(hours=1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", NOW + timedelta(minutes=2)),
        ("Fri, 14 Mar 2025 10:00:00 GMT", datetime(2025, 3, 14, 10, 0, tzinfo=UTC)),
        ("Fri, 14 Mar 2025 08:00:00 GMT", NOW),
        ("99999999999", NOW + timedelta(hours=6)),
        ("bald", None),
        ("", None),
    ],
)
def test_retry_after_values(value: str, expected: datetime | None):
    assert retry_at(value, NOW, POLICY.max_backoff) == expected


def test_what_is_skipped_and_why():
    assert skip_reason(Health(), NOW) is None
    assert skip_reason(after_success(NOW, POLICY, "ok"), NOW) is None  # healthy: always due
    backing_off = after_failure(Health(), NOW, POLICY)
    reason = skip_reason(backing_off, NOW + timedelta(minutes=10))
    assert reason is not None and reason.startswith("waiting until 2025-03-14T10:30:00+00:00")
    assert skip_reason(backing_off, NOW + timedelta(hours=1)) is None
    paused = Health(4, None, NOW, "error")
    assert skip_reason(paused, NOW + timedelta(days=30)) == (
        "paused since 2025-03-14T09:30:00+00:00 after repeated failures"
    )


# --- through ingest ------------------------------------------------------------------------------


def state_of(database_url: str, feed_id: str) -> FeedState:
    with session_scope(database_url) as session:
        state = session.get(FeedState, feed_id)
        assert state is not None
        return state


def test_a_failing_feed_backs_off_then_pauses_with_an_event(
    database_url: str,
    feed_server: FeedServer,
    limits: FetchSection,
    tmp_path: Path,
    formats: Any,
):
    url = feed_server.serve("/kaputt.xml", "Wartung", status=500)
    feeds = [Feed(id="kaputt", url=url, interval=timedelta(hours=1))]
    fetch = limits.model_copy(update={"pause_after": 3})
    run_at = [NOW, NOW + timedelta(minutes=10), NOW + timedelta(hours=1), NOW + timedelta(hours=3)]

    outcomes = [
        ingest(database_url, feeds, base_dir=tmp_path, now=at, fetch=fetch)[0] for at in run_at
    ]
    later = ingest(database_url, feeds, base_dir=tmp_path, now=NOW + timedelta(days=2), fetch=fetch)

    assert [o.status for o in outcomes] == ["error", "skipped", "error", "error"]
    assert [o.paused for o in outcomes] == [False, False, False, True]
    assert later[0].status == "skipped" and "paused since" in (later[0].error or "")
    assert len(feed_server.requests_for("/kaputt.xml")) == 3
    state = state_of(database_url, "kaputt")
    assert (state.consecutive_failures, state.paused_at) == (3, NOW + timedelta(hours=3))
    assert state.last_error is not None and state.last_error.startswith(f"kaputt: {url}: HTTP 500")
    with session_scope(database_url) as session:
        (event,) = session.scalars(select(Event).where(Event.type == "feed.paused"))
        assert event.payload == {
            "feed_id": "kaputt",
            "url": url,
            "failures": 3,
            "error": state.last_error,
        }


def test_a_changed_url_resumes_a_paused_feed(
    database_url: str,
    feed_server: FeedServer,
    limits: FetchSection,
    tmp_path: Path,
    formats: Any,
    story: Any,
):
    broken = feed_server.serve("/alt.xml", "weg", status=410)
    fetch = limits.model_copy(update={"pause_after": 1})
    ingest(database_url, [Feed(id="region", url=broken)], base_dir=tmp_path, now=NOW, fetch=fetch)
    fixed = feed_server.serve("/neu.xml", formats.rss(story(1)))

    (outcome,) = ingest(
        database_url, [Feed(id="region", url=fixed)], base_dir=tmp_path, now=NOW, fetch=fetch
    )

    assert outcome.status == "ok"
    state = state_of(database_url, "region")
    assert (state.paused_at, state.consecutive_failures, state.url) == (None, 0, fixed)


def test_retry_after_holds_back_the_feed_and_defers_the_rest_of_its_host(
    database_url: str,
    feed_server: FeedServer,
    limits: FetchSection,
    tmp_path: Path,
    formats: Any,
    story: Any,
):
    busy = feed_server.serve(
        "/a.xml", "Zu viele Anfragen", status=429, headers={"Retry-After": "7200"}
    )
    waiting = feed_server.serve("/b.xml", formats.rss(story(1)))
    feeds = [Feed(id="a", url=busy), Feed(id="b", url=waiting)]

    first = ingest(database_url, feeds, base_dir=tmp_path, now=NOW, fetch=limits)
    soon = ingest(
        database_url, feeds, base_dir=tmp_path, now=NOW + timedelta(hours=1), fetch=limits
    )

    assert [o.status for o in first] == ["error", "deferred"]
    assert feed_server.requests_for("/b.xml") == []
    assert state_of(database_url, "a").next_fetch_at == NOW + timedelta(hours=2)
    assert state_of(database_url, "b").next_fetch_at == NOW + timedelta(hours=2)
    assert state_of(database_url, "b").consecutive_failures == 0
    assert [o.status for o in soon] == ["skipped", "skipped"]


def test_a_host_that_asked_to_wait_is_left_alone_by_later_runs_too(
    database_url: str,
    feed_server: FeedServer,
    limits: FetchSection,
    tmp_path: Path,
    formats: Any,
    story: Any,
):
    """One Celery task per feed: the feed that got Retry-After holds back the next task's feed
    on the same host, though that task never saw the answer itself."""
    busy = feed_server.serve("/a.xml", "Zu viele", status=503, headers={"Retry-After": "600"})
    other = feed_server.serve("/c.xml", formats.rss(story(1)))

    first = ingest(database_url, [Feed(id="a", url=busy)], base_dir=tmp_path, now=NOW, fetch=limits)
    (held,) = ingest(
        database_url, [Feed(id="c", url=other)], base_dir=tmp_path, now=NOW, fetch=limits
    )
    (later,) = ingest(
        database_url,
        [Feed(id="c", url=other)],
        base_dir=tmp_path,
        now=NOW + timedelta(minutes=11),
        fetch=limits,
    )

    assert first[0].status == "error"
    assert state_of(database_url, "a").last_status == "throttled"
    assert held.status == "skipped"
    assert held.error == "its host asked to wait until 2025-03-14T09:40:00+00:00"
    assert later.status == "ok"
    assert len(feed_server.requests_for("/c.xml")) == 1
