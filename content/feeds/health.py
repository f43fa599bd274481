"""A feed's health: when it may be fetched again, and when to stop trying.

Pure decisions, in the manner of lemon24/reader's ``Decider``: the stored health and ``now`` go
in, the new health comes out; :mod:`content.ingest` writes it. A feed that fails is retried
after its interval, then after twice that, four times … up to ``max_backoff`` (a server that is
down for a day is not hammered every half hour); a server's ``Retry-After`` is honoured when it
asks for longer; after ``pause_after`` failures in a row the feed is paused until someone looks
(``depesche feeds resume``) or its URL changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

# Beat and the clock are not exact: a feed due a few seconds from now counts as due.
DUE_SLACK = timedelta(seconds=30)


@dataclass(frozen=True)
class HealthPolicy:
    interval: timedelta
    pause_after: int
    max_backoff: timedelta


@dataclass(frozen=True)
class Health:
    """The part of a feed's stored state these decisions read and write."""

    consecutive_failures: int = 0
    next_fetch_at: datetime | None = None
    paused_at: datetime | None = None
    last_status: str | None = None
    retry_after_at: datetime | None = None


def skip_reason(health: Health, now: datetime) -> str | None:
    """Why the feed is not fetched at ``now``, or None when it is due.

    A healthy feed is fetched whenever asked (the scheduler keeps its interval); one that
    failed or was told to wait is held back until its ``next_fetch_at``.
    """
    if health.paused_at is not None:
        return f"paused since {health.paused_at.isoformat()} after repeated failures"
    held_back = health.consecutive_failures > 0 or health.last_status == "deferred"
    if held_back and health.next_fetch_at is not None and health.next_fetch_at > now + DUE_SLACK:
        return f"waiting until {health.next_fetch_at.isoformat()} before the next try"
    return None


def after_success(now: datetime, policy: HealthPolicy, status: str) -> Health:
    return Health(0, now + policy.interval, None, status, None)


def after_failure(
    health: Health, now: datetime, policy: HealthPolicy, retry_after: str | None = None
) -> Health:
    """One more failure: back off exponentially, longer if the server asked, pause at the limit."""
    failures = health.consecutive_failures + 1
    wait = backoff(failures, policy)
    asked = retry_at(retry_after, now, policy.max_backoff) if retry_after else None
    next_fetch = max(now + wait, asked) if asked is not None else now + wait
    # "throttled": the host itself asked to be left alone, which holds back its other feeds too.
    status = "throttled" if asked is not None else "error"
    if failures >= policy.pause_after:
        return Health(failures, None, now, status, asked)
    return Health(failures, next_fetch, None, status, asked)


def host_hold(health: Health, now: datetime) -> datetime | None:
    """Until when this feed's host asked every client to wait, if it did and still does."""
    until = health.retry_after_at
    return until if until is not None and until > now + DUE_SLACK else None


def deferred(health: Health, until: datetime) -> Health:
    """Not tried, because the host asked everyone to wait: no failure of the feed's own."""
    return Health(health.consecutive_failures, until, health.paused_at, "deferred", None)


def backoff(failures: int, policy: HealthPolicy) -> timedelta:
    """The interval after one failure, doubled for each further one, at most ``max_backoff``."""
    if failures <= 0:
        return policy.interval
    factor = 1 << min(failures - 1, 30)
    return min(policy.interval * factor, max(policy.max_backoff, policy.interval))


def retry_at(value: str | None, now: datetime, longest: timedelta) -> datetime | None:
    """The instant a ``Retry-After`` value (seconds or an HTTP date) names, within ``longest``.

    The cap keeps a hostile or confused server from silencing a feed for a year.
    """
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        moment = now + timedelta(seconds=int(text[:9]))
    else:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return min(max(moment, now), now + longest)
