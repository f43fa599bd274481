"""Fetching from disk and over HTTP, against a real server on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from content.feeds.fetch import FetchError, fetch, user_agent

LIMITS: dict[str, Any] = {"timeout": 5.0, "max_bytes": 100_000}
BODY = "<rss version='2.0'><channel><title>Meldungen</title></channel></rss>"


def test_http_fetch_identifies_itself_and_returns_validators(feed_server: Any, tmp_path: Path):
    url = feed_server.serve(
        "/feed.xml", BODY, etag='"v1"', last_modified="Mon, 10 Mar 2025 08:00:00 GMT"
    )

    result = fetch(url, base_dir=tmp_path, etag=None, last_modified=None, **LIMITS)

    assert not result.not_modified
    assert result.content == BODY.encode()
    assert result.etag == '"v1"'
    assert result.last_modified == "Mon, 10 Mar 2025 08:00:00 GMT"
    assert result.headers["content-type"].startswith("application/rss+xml")
    assert result.url == url
    sent = feed_server.requests_for("/feed.xml")[0].headers
    assert sent["user-agent"] == user_agent()
    assert (
        user_agent().startswith("Depesche/") and "(+https://depesche.example.org)" in user_agent()
    )


def test_second_fetch_with_etag_is_not_modified(feed_server: Any, tmp_path: Path):
    url = feed_server.serve("/feed.xml", BODY, etag='"v1"')
    first = fetch(url, base_dir=tmp_path, etag=None, last_modified=None, **LIMITS)

    second = fetch(url, base_dir=tmp_path, etag=first.etag, last_modified=None, **LIMITS)

    assert second.not_modified
    assert second.content == b""
    assert second.etag == '"v1"'
    assert feed_server.requests_for("/feed.xml")[1].headers["if-none-match"] == '"v1"'


def test_second_fetch_with_last_modified_is_not_modified(feed_server: Any, tmp_path: Path):
    stamp = "Mon, 10 Mar 2025 08:00:00 GMT"
    url = feed_server.serve("/feed.xml", BODY, last_modified=stamp)
    first = fetch(url, base_dir=tmp_path, etag=None, last_modified=None, **LIMITS)

    second = fetch(url, base_dir=tmp_path, etag=None, last_modified=first.last_modified, **LIMITS)

    assert second.not_modified
    assert second.last_modified == stamp
    assert feed_server.requests_for("/feed.xml")[1].headers["if-modified-since"] == stamp


def test_server_error_raises_naming_the_url(feed_server: Any, tmp_path: Path):
    url = feed_server.serve("/kaputt.xml", "Interner Fehler", status=500)

    with pytest.raises(FetchError, match="HTTP 500") as caught:
        fetch(url, base_dir=tmp_path, etag=None, last_modified=None, **LIMITS)

    assert url in str(caught.value)
    assert caught.value.url == url


@pytest.mark.parametrize("send_length", [True, False], ids=["declared", "streamed"])
def test_body_over_byte_cap_is_an_error(feed_server: Any, tmp_path: Path, send_length: bool):
    url = feed_server.serve("/gross.xml", b"x" * 5_000, send_length=send_length)

    with pytest.raises(FetchError, match="limit of 1000 bytes"):
        fetch(url, base_dir=tmp_path, etag=None, last_modified=None, timeout=5, max_bytes=1000)


def test_redirects_are_followed_and_the_final_url_reported(feed_server: Any, tmp_path: Path):
    target = feed_server.serve("/neu.xml", BODY)
    for hop in range(5):
        following = "/neu.xml" if hop == 4 else f"/umzug{hop + 1}"
        feed_server.serve(f"/umzug{hop}", "", status=301, headers={"Location": following})

    result = fetch(
        feed_server.url("/umzug0"), base_dir=tmp_path, etag=None, last_modified=None, **LIMITS
    )

    assert result.content == BODY.encode()
    assert result.url == target


def test_more_than_five_redirects_is_an_error(feed_server: Any, tmp_path: Path):
    for hop in range(6):
        feed_server.serve(f"/umzug{hop}", "", status=302, headers={"Location": f"/umzug{hop + 1}"})
    feed_server.serve("/umzug6", BODY)

    with pytest.raises(FetchError, match="more than 5 redirects"):
        fetch(
            feed_server.url("/umzug0"), base_dir=tmp_path, etag=None, last_modified=None, **LIMITS
        )


def test_redirect_to_a_file_url_is_refused(feed_server: Any, tmp_path: Path):
    url = feed_server.serve("/falle", "", status=302, headers={"Location": "file:///etc/passwd"})

    with pytest.raises(FetchError, match="unsupported URL"):
        fetch(url, base_dir=tmp_path, etag=None, last_modified=None, **LIMITS)


def test_slow_server_times_out(feed_server: Any, tmp_path: Path):
    url = feed_server.serve("/langsam.xml", BODY, delay=1.0)

    with pytest.raises(FetchError, match="timed out"):
        fetch(url, base_dir=tmp_path, etag=None, last_modified=None, timeout=0.2, max_bytes=1000)


def test_relative_path_is_read_from_the_workspace(tmp_path: Path):
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "lokal.xml").write_text(BODY, encoding="utf-8")

    result = fetch("feeds/lokal.xml", base_dir=tmp_path, etag=None, last_modified=None, **LIMITS)

    assert result.content == BODY.encode()
    assert result.url == (tmp_path / "feeds" / "lokal.xml").as_uri()


def test_file_url_is_read_and_unchanged_file_is_not_modified(tmp_path: Path):
    path = tmp_path / "lokal.xml"
    path.write_text(BODY, encoding="utf-8")
    first = fetch(
        path.as_uri(), base_dir=Path("/nirgends"), etag=None, last_modified=None, **LIMITS
    )

    second = fetch(path.as_uri(), base_dir=tmp_path, etag=first.etag, last_modified=None, **LIMITS)
    path.write_text(BODY.replace("Meldungen", "Neues"), encoding="utf-8")
    third = fetch(path.as_uri(), base_dir=tmp_path, etag=first.etag, last_modified=None, **LIMITS)

    assert first.content == BODY.encode()
    assert second.not_modified
    assert not third.not_modified and b"Neues" in third.content


def test_missing_file_raises_naming_the_path(tmp_path: Path):
    with pytest.raises(FetchError, match=r"fehlt\.xml"):
        fetch("fehlt.xml", base_dir=tmp_path, etag=None, last_modified=None, **LIMITS)


def test_file_over_byte_cap_is_an_error(tmp_path: Path):
    (tmp_path / "gross.xml").write_bytes(b"x" * 2_000)

    with pytest.raises(FetchError, match="limit of 1000 bytes"):
        fetch(
            "gross.xml", base_dir=tmp_path, etag=None, last_modified=None, timeout=5, max_bytes=1000
        )


@pytest.mark.parametrize(
    "url", ["ftp://example.org/feed.xml", "javascript:alert(1)", "gopher://example.org/"]
)
def test_other_schemes_are_refused(tmp_path: Path, url: str):
    with pytest.raises(FetchError, match="not supported"):
        fetch(url, base_dir=tmp_path, etag=None, last_modified=None, **LIMITS)
