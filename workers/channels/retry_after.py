"""How long a rate-limited HTTP server asks us to wait, read from its answer's headers.

Servers say it in different ways: ``Retry-After`` as seconds or as an HTTP date (RFC 9110),
Mastodon's ``X-RateLimit-Reset`` as an ISO 8601 time, Bluesky's ``ratelimit-reset`` as Unix
seconds. The server's own wish beats our backoff, so the HTTP channels hand it on in
:class:`~workers.channels.base.TransientError`. Values that make no sense give None (our
backoff then decides); a time already past gives 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from content.feeds.health import retry_at

LONGEST_WAIT = timedelta(days=1)


def _seconds_until(moment: datetime, now: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None


def retry_after(headers: Mapping[str, str], *, now: datetime) -> float | None:
    """Seconds to wait before the next attempt, or None when the server did not say."""
    lowered = {key.lower(): value.strip() for key, value in headers.items()}
    # The feeds read Retry-After the same way; one reader, with the same cap on how long a
    # hostile or confused server can make us wait.
    moment = retry_at(lowered.get("retry-after"), now, LONGEST_WAIT)
    if moment is not None:
        return (moment - now).total_seconds()
    for name in ("x-ratelimit-reset", "ratelimit-reset"):
        value = lowered.get(name)
        if not value:
            continue
        if value.isdigit():
            number = int(value)
            # Unix seconds (Bluesky) or, from some servers, seconds from now.
            if number > 1_000_000_000:
                return _seconds_until(datetime.fromtimestamp(number, UTC), now)
            return float(number)
        moment = _parse_time(value)
        if moment is not None:
            return _seconds_until(moment, now)
    return None
