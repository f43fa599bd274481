"""How long a rate-limited server may make a channel wait: its own wish, within a day."""

from datetime import UTC, datetime, timedelta

from workers.channels.retry_after import retry_after

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_seconds_and_http_dates_are_read() -> None:
    assert retry_after({"Retry-After": "17"}, now=NOW) == 17.0
    date = "Wed, 25 Nov 2026 12:01:30 GMT"
    assert retry_after({"retry-after": date}, now=NOW) == 90.0


def test_a_hostile_wait_is_capped_at_a_day() -> None:
    assert retry_after({"Retry-After": "99999999"}, now=NOW) == 86400.0


def test_rate_limit_reset_headers_when_retry_after_is_missing() -> None:
    reset = int((NOW + timedelta(seconds=45)).timestamp())
    assert retry_after({"ratelimit-reset": str(reset)}, now=NOW) == 45.0
    assert retry_after({"X-RateLimit-Reset": "2026-11-25T12:00:30Z"}, now=NOW) == 30.0
    assert retry_after({}, now=NOW) is None
