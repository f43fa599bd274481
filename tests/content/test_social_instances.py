"""A configured Mastodon instance's own limits and Bluesky DIDs, fetched over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from content.social.counting import length
from content.social.fitting import fit
from content.social.instances import (
    CACHE,
    DEFAULT_MASTODON,
    InstanceError,
    fetch_mastodon_limits,
    handle_resolver,
    mastodon_limits,
)
from tests.content.loopback_json import JsonServer, json_server

INSTANCE = {
    "domain": "social.example.org",
    "configuration": {
        "urls": {"streaming": "wss://social.example.org"},
        "statuses": {
            "max_characters": 1000,
            "max_media_attachments": 4,
            "characters_reserved_per_url": 30,
        },
        "media_attachments": {"image_size_limit": 10485760, "image_matrix_limit": 16777216},
    },
}


@pytest.fixture()
def server() -> Iterator[JsonServer]:
    CACHE.clear()
    with json_server() as running:
        yield running
    CACHE.clear()


def test_limits_come_from_the_instance_document(server: JsonServer) -> None:
    server.routes["/api/v2/instance"] = (200, INSTANCE)
    limits = fetch_mastodon_limits(server.url)
    assert (limits.max_characters, limits.characters_reserved_per_url) == (1000, 30)
    assert (limits.image_size_limit, limits.image_matrix_limit) == (10485760, 16777216)
    assert limits.source == f"{server.url}/api/v2/instance"


def test_instance_limit_and_url_weight_shape_the_post(server: JsonServer) -> None:
    server.routes["/api/v2/instance"] = (200, INSTANCE)
    limits = mastodon_limits(server.url, run="slot-1")
    body = "Die Woche der Industrie zeigt, was Industrie heute ausmacht. " * 20
    link = "https://example.org/x"
    post = fit(
        "mastodon",
        body,
        link,
        ["Tag"],
        limit=limits.max_characters,
        url_length=limits.characters_reserved_per_url,
    )
    counted = length("mastodon", post, url_length=30)
    assert 500 < counted <= 1000
    assert counted == length("mastodon", post) + 30 - 23


def test_instance_is_asked_once_per_run(server: JsonServer) -> None:
    server.routes["/api/v2/instance"] = (200, INSTANCE)
    for _ in range(6):  # six initiatives in one slot
        assert mastodon_limits(server.url, run="slot-1").max_characters == 1000
    assert server.requests == ["/api/v2/instance"]
    mastodon_limits(server.url, run="slot-2")
    assert len(server.requests) == 2


def test_no_channel_means_stock_mastodon_without_asking() -> None:
    assert mastodon_limits(None, run="slot-1") == DEFAULT_MASTODON
    assert DEFAULT_MASTODON.max_characters == 500


@pytest.mark.parametrize(
    ("status", "document"),
    [
        (404, {"error": "not found"}),
        (200, b"<html>no api</html>"),
        (200, {"configuration": {"statuses": {}}}),
        (200, {"configuration": {"statuses": {"max_characters": "500"}}}),
        (200, {"configuration": {"statuses": {"max_characters": -1}}}),
        (200, {"configuration": {"statuses": {"max_characters": 10**9}}}),
    ],
)
def test_unusable_answers_are_errors_and_fall_back_to_defaults(
    server: JsonServer, status: int, document: object
) -> None:
    server.routes["/api/v2/instance"] = (status, document)
    with pytest.raises(InstanceError):
        fetch_mastodon_limits(server.url)
    limits = mastodon_limits(server.url, run="slot-1")
    assert limits.max_characters == 500
    assert limits.source.startswith("default (")


def test_unreachable_instance_falls_back_within_the_timeout(server: JsonServer) -> None:
    from tests.services import free_port

    limits = mastodon_limits(f"http://127.0.0.1:{free_port()}", run="slot-1", timeout=2)
    assert limits.max_characters == 500


def test_bluesky_handles_resolve_once_per_run(server: JsonServer) -> None:
    path = "/xrpc/com.atproto.identity.resolveHandle"
    server.routes[path] = (200, {"did": "did:plc:ewvi7nxzyoun6zhxrhs64oiz"})
    resolve = handle_resolver(server.url, run="slot-1")
    assert resolve is not None
    assert resolve("presse.example.org") == "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
    assert resolve("presse.example.org") == "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
    assert server.requests == [f"{path}?handle=presse.example.org"]
    server.routes[path] = (200, {"did": "javascript:alert(1)"})
    assert handle_resolver(server.url, run="slot-2")("x.example.org") is None  # type: ignore[misc]
    assert handle_resolver(None, run="slot-1") is None
