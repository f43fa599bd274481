"""The Mastodon channel against a fake instance on loopback, driven by the real Mastodon.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trustme

from config.settings import Settings
from tests.social_servers import FakeMastodon, example_initiative, running, social_outgoing
from workers.channels.base import Outgoing, PermanentError, TransientError, send_all
from workers.channels.credentials import ChannelNotReady
from workers.channels.mastodon import (
    MastodonAccount,
    MastodonChannel,
    channel_for,
    idempotency_key,
)

TOKEN = "mastodon-token-Kf83hQ2"
TEXT = "Grüße aus Krefeld 🏭: Neue Förderung für Wasserstoff https://example.org/n/1 #Wasserstoff"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture
def instance(ca: trustme.CA) -> Iterator[FakeMastodon]:
    with running(FakeMastodon(token=TOKEN, ca=ca)) as server:
        yield server


def channel(server: FakeMastodon, ca_file: str, token: str = TOKEN) -> MastodonChannel:
    return MastodonChannel(MastodonAccount(server.url, token), ca_file=ca_file, timeout=10)


def send_one(chan: MastodonChannel, outgoing: Outgoing) -> str:
    with chan.connect() as connection:
        return connection.send(outgoing)


def test_post_arrives_with_its_text_and_the_images_alt_text(
    instance: FakeMastodon, ca_file: str
) -> None:
    alt = "Zwei Beschäftigte an einem Elektrolyseur in einer Werkhalle"
    outgoing = social_outgoing("mastodon", [TEXT], images=(("halle", alt),))

    status_id = send_one(channel(instance, ca_file), outgoing)

    assert list(instance.statuses) == [status_id]
    toot = instance.statuses[status_id]
    assert toot.text == TEXT
    assert [instance.media[m].description for m in toot.media_ids] == [alt]
    assert instance.media[toot.media_ids[0]].data.startswith(b"\x89PNG")
    assert toot.idempotency_key == idempotency_key(outgoing.delivery_key, 1)
    # Mastodon.py's version check was answered by the instance documents.
    assert instance.calls("/api/v1/instance", "GET")


def test_a_thread_is_posted_as_replies_in_order(instance: FakeMastodon, ca_file: str) -> None:
    posts = ["Erster Teil (1/3)", "Zweiter Teil (2/3)", "Dritter Teil (3/3)"]
    outgoing = social_outgoing("mastodon", posts)
    # The files are numbered -1, -2, -3; the order they come in must not matter.
    files = tuple(sorted(outgoing.files, key=lambda f: f.name, reverse=True))
    outgoing = replace(outgoing, files=files)

    first = send_one(channel(instance, ca_file), outgoing)

    toots = list(instance.statuses.values())
    assert [t.text for t in toots] == posts
    assert toots[0].id == first and toots[0].in_reply_to_id is None
    assert [t.in_reply_to_id for t in toots[1:]] == [toots[0].id, toots[1].id]
    assert len({t.idempotency_key for t in toots}) == 3


def test_sending_the_same_delivery_again_creates_nothing_new(
    instance: FakeMastodon, ca_file: str
) -> None:
    outgoing = social_outgoing("mastodon", ["Teil eins (1/2)", "Teil zwei (2/2)"])
    chan = channel(instance, ca_file)

    first = send_one(chan, outgoing)
    again = send_one(chan, outgoing)

    assert again == first
    assert len(instance.statuses) == 2
    assert len(instance.calls("/api/v1/statuses")) == 4


def test_a_thread_cut_short_is_completed_without_repeating_its_start(
    instance: FakeMastodon, ca_file: str
) -> None:
    posts = ["Erster Teil (1/3)", "Zweiter Teil (2/3)", "Dritter Teil (3/3)"]
    outgoing = social_outgoing("mastodon", posts)
    instance.script(503, body={"error": "unavailable"}, path="/api/v1/statuses", after=1)
    chan = channel(instance, ca_file)

    with pytest.raises(TransientError):
        send_one(chan, outgoing)
    assert [t.text for t in instance.statuses.values()] == posts[:1]

    send_one(chan, outgoing)
    toots = list(instance.statuses.values())
    assert [t.text for t in toots] == posts
    assert [t.in_reply_to_id for t in toots] == [None, toots[0].id, toots[1].id]


def test_rate_limit_is_transient_with_the_servers_wait_then_succeeds(
    instance: FakeMastodon, ca_file: str
) -> None:
    instance.script(429, body={"error": "Too many requests"}, headers={"Retry-After": "17"})
    outgoing = social_outgoing("mastodon", [TEXT])
    chan = channel(instance, ca_file)

    with pytest.raises(TransientError) as caught:
        send_one(chan, outgoing)
    assert caught.value.retry_after == 17
    assert not instance.statuses

    send_one(chan, outgoing)
    assert len(instance.statuses) == 1


def test_rate_limit_reset_time_is_read_when_there_is_no_retry_after(
    instance: FakeMastodon, ca_file: str
) -> None:
    reset = {"X-RateLimit-Reset": "2026-11-25T16:00:45.000Z", "X-RateLimit-Remaining": "0"}
    instance.script(429, body={"error": "Too many requests"}, headers=reset)
    now = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
    chan = MastodonChannel(MastodonAccount(instance.url, TOKEN), ca_file=ca_file, clock=lambda: now)

    with pytest.raises(TransientError) as caught:
        send_one(chan, social_outgoing("mastodon", [TEXT]))
    assert caught.value.retry_after == 45


def test_server_error_is_transient(instance: FakeMastodon, ca_file: str) -> None:
    instance.script(503, body={"error": "Service Unavailable"}, path="/api/v1/statuses")
    with pytest.raises(TransientError):
        send_one(channel(instance, ca_file), social_outgoing("mastodon", [TEXT]))


def test_validation_failure_is_permanent_with_the_servers_reason(
    instance: FakeMastodon, ca_file: str
) -> None:
    with pytest.raises(PermanentError) as caught:
        send_one(channel(instance, ca_file), social_outgoing("mastodon", ["x" * 501]))
    assert "422" in str(caught.value)
    assert "character limit" in str(caught.value)


def test_a_refused_token_is_permanent_and_never_shown(instance: FakeMastodon, ca_file: str) -> None:
    wrong = "mastodon-token-WRONG-9931"
    with pytest.raises(PermanentError) as caught:
        send_one(channel(instance, ca_file, token=wrong), social_outgoing("mastodon", [TEXT]))
    message = str(caught.value)
    assert "401" in message and "DEPESCHE_MASTODON_TOKEN_<SLUG>" in message
    assert wrong not in message and TOKEN not in message
    assert wrong not in repr(channel(instance, ca_file, token=wrong).account)


def test_unreachable_instance_is_transient(ca_file: str) -> None:
    with running(FakeMastodon(token=TOKEN)) as server:
        gone = server.url.replace("http://", "https://")
    chan = MastodonChannel(MastodonAccount(gone, TOKEN), ca_file=ca_file, timeout=5)
    with pytest.raises(TransientError) as caught:
        send_one(chan, social_outgoing("mastodon", [TEXT]))
    assert TOKEN not in str(caught.value)


def test_channel_for_takes_the_instance_from_the_workspace_and_the_token_from_the_environment(
    instance: FakeMastodon, ca_file: str, tmp_path: Path
) -> None:
    initiative = example_initiative("nord-westfalen", {"mastodon": {"instance": instance.url}})
    settings = Settings(workspace=tmp_path)

    with pytest.raises(ChannelNotReady) as caught:
        channel_for(initiative, settings, environ={})
    assert "DEPESCHE_MASTODON_TOKEN_NORD_WESTFALEN" in str(caught.value)

    environ = {"DEPESCHE_MASTODON_TOKEN_NORD_WESTFALEN": TOKEN}
    chan = channel_for(initiative, settings, environ=environ, ca_file=ca_file)
    sent = list(send_all(chan, [social_outgoing("mastodon", [TEXT])]))
    assert [status for _, status in sent] == list(instance.statuses)
    # The initiative's locale (de_DE) gives the statuses' language.
    assert [toot.language for toot in instance.statuses.values()] == ["de"]
    assert TOKEN not in repr(chan)


def test_channel_for_names_the_missing_instance(tmp_path: Path) -> None:
    with pytest.raises(ChannelNotReady, match=r"channels\.mastodon\.instance"):
        channel_for(example_initiative("krefeld", {}), Settings(workspace=tmp_path), environ={})
