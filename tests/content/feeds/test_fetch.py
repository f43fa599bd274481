"""Fetching from disk and over HTTP, against real servers on loopback (and a fake DNS)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from content.feeds.fetch import Fetcher, FetchError, FetchLimits, fetch, user_agent
from tests.content.feeds.servers import LOOPBACK_ONLY, FakeResolver, read_data, running_server

LIMITS: dict[str, Any] = {"timeout": 5.0, "max_bytes": 100_000, "allow_networks": LOOPBACK_ONLY}
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
        fetch(
            url,
            base_dir=tmp_path,
            etag=None,
            last_modified=None,
            timeout=5,
            max_bytes=1000,
            allow_networks=LOOPBACK_ONLY,
        )


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
        fetch(
            url,
            base_dir=tmp_path,
            etag=None,
            last_modified=None,
            timeout=0.2,
            max_bytes=1000,
            allow_networks=LOOPBACK_ONLY,
        )


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


# --- SSRF guard ---------------------------------------------------------------------------------


def test_loopback_is_refused_unless_the_workspace_allows_it(feed_server: Any, tmp_path: Path):
    url = feed_server.serve("/feed.xml", BODY)

    with pytest.raises(FetchError, match=r"refused: 127\.0\.0\.1 is 127\.0\.0\.1 \(loopback\)"):
        fetch(url, base_dir=tmp_path, etag=None, last_modified=None, timeout=5, max_bytes=1000)

    assert feed_server.requests == []


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("169.254.169.254", "cloud metadata service"),
        ("10.20.30.40", "private network"),
        ("192.168.0.1", "private network"),
        ("127.0.0.2", "loopback"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
    ],
)
def test_names_resolving_to_internal_addresses_are_refused_before_connecting(
    tmp_path: Path, address: str, reason: str
):
    resolver = FakeResolver({"feeds.example": [[address]]})

    with pytest.raises(FetchError, match=rf"feeds\.example resolves to .*\({reason}\)"):
        fetch(
            "http://feeds.example/feed.xml",
            base_dir=tmp_path,
            etag=None,
            last_modified=None,
            resolver=resolver,
            **LIMITS,
        )


def test_every_redirect_hop_is_checked(feed_server: Any, tmp_path: Path):
    metadata = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    url = feed_server.serve("/umzug", "", status=302, headers={"Location": metadata})

    with pytest.raises(FetchError) as caught:
        fetch(url, base_dir=tmp_path, etag=None, last_modified=None, **LIMITS)

    message = str(caught.value)
    assert message.startswith(f"{url} (redirected to {metadata}): refused")
    assert "cloud metadata service" in message


def test_dns_rebinding_cannot_redirect_the_connection(tmp_path: Path):
    """The resolver answers the allowed 127.0.0.1 first and the forbidden 127.0.0.2 afterwards,
    where a trap server listens on the same port. The connection goes to the address that was
    checked; a second resolution is never used, and a fresh one is refused."""
    with running_server("127.0.0.1") as server, running_server("127.0.0.2", server.port) as trap:
        server.serve("/feed.xml", BODY)
        trap.serve("/feed.xml", "<rss><channel><title>Falle</title></channel></rss>")
        resolver = FakeResolver({"rebind.example": [["127.0.0.1"], ["127.0.0.2"]]})
        url = server.url("/feed.xml", host="rebind.example")
        limits = FetchLimits(timeout=5, total_timeout=20, max_bytes=100_000)

        with Fetcher(limits, allow_networks=LOOPBACK_ONLY, resolver=resolver) as fetcher:
            result = fetcher.fetch(url, base_dir=tmp_path, etag=None, last_modified=None)
            again = fetcher.fetch(url, base_dir=tmp_path, etag=None, last_modified=None)
        with (
            Fetcher(limits, allow_networks=LOOPBACK_ONLY, resolver=resolver) as fresh,
            pytest.raises(FetchError, match=r"rebind\.example resolves to 127\.0\.0\.2"),
        ):
            fresh.fetch(url, base_dir=tmp_path, etag=None, last_modified=None)

        assert result.content == again.content == BODY.encode()
        assert resolver.questions == ["rebind.example", "rebind.example"]
        assert [r.headers["host"] for r in server.requests] == [f"rebind.example:{server.port}"] * 2
        assert trap.requests == []


def test_environment_proxies_are_ignored(
    feed_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9/")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9/")
    url = feed_server.serve("/feed.xml", BODY)

    result = fetch(url, base_dir=tmp_path, etag=None, last_modified=None, **LIMITS)

    assert result.content == BODY.encode()


# --- redirects ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "permanent"),
    [
        ((301, 308), "/ziel.xml"),
        ((301, 302), "/zwischen"),
        ((302, 301), None),
        ((307,), None),
    ],
)
def test_only_permanent_redirects_from_the_start_move_the_feed(
    feed_server: Any, tmp_path: Path, statuses: tuple[int, ...], permanent: str | None
):
    feed_server.serve("/ziel.xml", BODY)
    hops = ["/start", "/zwischen"][: len(statuses)]
    targets = [*hops[1:], "/ziel.xml"]
    for hop, status, target in zip(hops, statuses, targets, strict=True):
        feed_server.serve(hop, "", status=status, headers={"Location": target})

    result = fetch(
        feed_server.url("/start"), base_dir=tmp_path, etag=None, last_modified=None, **LIMITS
    )

    assert result.url == feed_server.url("/ziel.xml")
    assert result.permanent_url == (feed_server.url(permanent) if permanent else None)


# --- compression and size -----------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compressed_responses_are_decoded(feed_server: Any, tmp_path: Path, encoding: str):
    url = feed_server.serve("/feed.xml", BODY * 20, encoding=encoding)

    result = fetch(url, base_dir=tmp_path, etag=None, last_modified=None, **LIMITS)

    assert result.content == (BODY * 20).encode()
    assert feed_server.requests[0].headers["accept-encoding"] == "gzip, deflate"


def test_decompression_bomb_stops_at_the_cap(feed_server: Any, tmp_path: Path):
    bomb = read_data("decompression-bomb.gz")  # 16 KB that inflate to 16 MB of zeros
    url = feed_server.serve("/bombe.xml", bomb, encoding="gzip", precompressed=True)

    with pytest.raises(FetchError, match="exceeds the limit of 100000 bytes after decompression"):
        fetch(url, base_dir=tmp_path, etag=None, last_modified=None, **LIMITS)

    assert len(bomb) < 100_000


# --- slow servers -------------------------------------------------------------------------------


def test_trickling_body_is_cut_off_at_the_total_deadline(feed_server: Any, tmp_path: Path):
    # Each byte arrives well within the read timeout; only the whole-fetch deadline stops it.
    url = feed_server.serve("/tropf.xml", BODY, trickle=0.05)

    with pytest.raises(FetchError, match=r"took longer than 0\.5s in total"):
        fetch(
            url,
            base_dir=tmp_path,
            etag=None,
            last_modified=None,
            timeout=5,
            total_timeout=0.5,
            max_bytes=100_000,
            allow_networks=LOOPBACK_ONLY,
        )


# --- Retry-After --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_passed_on_with_the_error(feed_server: Any, tmp_path: Path, status: int):
    url = feed_server.serve(
        "/voll.xml", "Bitte warten", status=status, headers={"Retry-After": "120"}
    )

    with pytest.raises(FetchError, match=f"HTTP {status}") as caught:
        fetch(url, base_dir=tmp_path, etag=None, last_modified=None, **LIMITS)

    assert (caught.value.status, caught.value.retry_after) == (status, "120")
