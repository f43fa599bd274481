"""The Bluesky channel against a fake PDS on loopback, driven by the real atproto client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme

from config.settings import Settings
from tests.social_servers import FakePds, Post, example_initiative, running, social_outgoing
from workers.channels.base import Attachment, Outgoing, PermanentError, TransientError, send_all
from workers.channels.bluesky import BlueskyAccount, BlueskyChannel, channel_for
from workers.channels.credentials import ChannelNotReady
from workers.channels.tid import TID_PATTERN, is_tid, make, tid_for

HANDLE = "zdi-krefeld.example.org"
PASSWORD = "app-pw-x7k2-9qz1"
CREATE = "/xrpc/com.atproto.repo.createRecord"
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
def pds(ca: trustme.CA) -> Iterator[FakePds]:
    with running(FakePds(handle=HANDLE, password=PASSWORD, ca=ca)) as server:
        yield server


def channel(server: FakePds, ca_file: str, password: str = PASSWORD) -> BlueskyChannel:
    return BlueskyChannel(BlueskyAccount(server.url, HANDLE, password), ca_file=ca_file, timeout=10)


def send_one(chan: BlueskyChannel, outgoing: Outgoing) -> str:
    with chan.connect() as connection:
        return connection.send(outgoing)


def _plain(facet: dict[str, Any]) -> dict[str, Any]:
    """A facet without the optional ``$type`` atproto's models add to its byte slice."""
    index = {k: v for k, v in facet["index"].items() if k != "$type"}
    return {**facet, "index": index}


# --- TIDs -----------------------------------------------------------------------------------


def test_derived_tids_are_valid_and_stable() -> None:
    moment = datetime(2026, 11, 9, 8, 0, tzinfo=UTC)
    keys = [f"delivery:{n}" for n in range(500)]
    tids = [tid_for(moment, key) for key in keys]
    assert all(TID_PATTERN.match(tid) for tid in tids)
    assert tids == [tid_for(moment, key) for key in keys]
    assert len(set(tids)) == len(tids)
    # The same delivery at another piece time is another record.
    assert tid_for(moment + timedelta(minutes=1), keys[0]) != tids[0]


def test_tid_encoding_matches_the_spec_examples() -> None:
    # The smallest and largest TIDs of the spec's alphabet, and ordering by time.
    assert make(0, 0) == "2222222222222"
    # 63 bits in 13 characters of 5 bits: the first holds only the top 3, so "b" at most.
    assert make(2**53 - 1, 1023) == "bzzzzzzzzzzzz"
    earlier = tid_for(datetime(2026, 1, 1, tzinfo=UTC), "k")
    later = tid_for(datetime(2026, 1, 2, tzinfo=UTC), "k")
    assert earlier < later
    assert not is_tid("kzzzzzzzzzzzz") and not is_tid("3jzfcijpj2z2")


def test_tid_needs_a_timezone_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        tid_for(datetime(2026, 1, 1), "k")


# --- Posting --------------------------------------------------------------------------------


def test_post_arrives_with_text_facets_and_alt_text(pds: FakePds, ca_file: str) -> None:
    alt = "Zwei Beschäftigte an einem Elektrolyseur in einer Werkhalle"
    outgoing = social_outgoing("bluesky", [TEXT], images=(("halle", alt),))
    composed = json.loads(next(f for f in outgoing.files if f.name.endswith(".json")).content)

    uri = send_one(channel(pds, ca_file), outgoing)

    [post] = pds.posts()
    assert post.uri == uri and uri.startswith(f"at://{pds.did}/app.bsky.feed.post/")
    assert TID_PATTERN.match(post.rkey)
    assert post.value["text"] == TEXT
    assert [_plain(f) for f in post.value["facets"]] == composed["facets"]
    assert post.value["langs"] == ["de"]
    # The link facet covers the URL's UTF-8 bytes, after the umlauts and the emoji.
    link = next(f for f in post.value["facets"] if f["features"][0]["$type"].endswith("#link"))
    start, end = link["index"]["byteStart"], link["index"]["byteEnd"]
    assert TEXT.encode()[start:end] == b"https://example.org/n/1"
    [image] = post.value["embed"]["images"]
    assert image["alt"] == alt
    assert (image["aspectRatio"]["width"], image["aspectRatio"]["height"]) == (40, 30)
    media_type, data = pds.blobs[image["image"]["ref"]["$link"]]
    assert media_type == "image/png" and data.startswith(b"\x89PNG")
    # atproto's login round: session, then the profile.
    assert pds.calls("/xrpc/app.bsky.actor.getProfile", "GET")


def test_a_thread_is_posted_as_replies(pds: FakePds, ca_file: str) -> None:
    posts = ["Erster Teil (1/3)", "Zweiter Teil (2/3)", "Dritter Teil (3/3)"]
    send_one(channel(pds, ca_file), social_outgoing("bluesky", posts))

    records = sorted(pds.posts(), key=lambda p: posts.index(p.value["text"]))
    refs = [(record.uri, record.cid) for record in records]
    assert "reply" not in records[0].value

    def replies_to(record: Post) -> tuple[tuple[str, str], tuple[str, str]]:
        reply = record.value["reply"]
        return (
            (reply["root"]["uri"], reply["root"]["cid"]),
            (reply["parent"]["uri"], reply["parent"]["cid"]),
        )

    assert replies_to(records[1]) == (refs[0], refs[0])
    assert replies_to(records[2]) == (refs[0], refs[1])


@pytest.mark.parametrize("duplicate_status", [500, 409])
def test_sending_the_same_delivery_again_creates_nothing_new(
    ca: trustme.CA, ca_file: str, duplicate_status: int
) -> None:
    server = FakePds(handle=HANDLE, password=PASSWORD, ca=ca, duplicate_status=duplicate_status)
    with running(server) as pds:
        outgoing = social_outgoing("bluesky", ["Teil eins (1/2)", "Teil zwei (2/2)"])
        chan = channel(pds, ca_file)

        first = send_one(chan, outgoing)
        again = send_one(chan, outgoing)

        assert again == first
        assert len(pds.posts()) == 2
        # The repeat was refused by the PDS, not skipped by us.
        assert len(pds.calls("/xrpc/com.atproto.repo.createRecord")) == 4


def test_a_thread_cut_short_is_completed_without_repeating_its_start(
    pds: FakePds, ca_file: str
) -> None:
    posts = ["Erster Teil (1/3)", "Zweiter Teil (2/3)", "Dritter Teil (3/3)"]
    outgoing = social_outgoing("bluesky", posts)
    pds.script(502, body={"error": "UpstreamFailure"}, path=CREATE, after=1)
    chan = channel(pds, ca_file)

    with pytest.raises(TransientError):
        send_one(chan, outgoing)
    assert [p.value["text"] for p in pds.posts()] == posts[:1]

    send_one(chan, outgoing)
    assert sorted(p.value["text"] for p in pds.posts()) == sorted(posts)


def test_a_session_about_to_expire_is_refreshed_by_the_client(ca: trustme.CA, ca_file: str) -> None:
    # atproto refreshes an access token with less than 15 minutes left before using it.
    server = FakePds(handle=HANDLE, password=PASSWORD, ca=ca, access_lifetime=timedelta(minutes=10))
    with running(server) as pds:
        send_one(channel(pds, ca_file), social_outgoing("bluesky", [TEXT]))
        assert pds.calls("/xrpc/com.atproto.server.refreshSession")
        assert len(pds.posts()) == 1


def test_posts_go_to_the_pds_the_did_document_names(ca: trustme.CA, ca_file: str) -> None:
    server = FakePds(handle=HANDLE, password=PASSWORD, ca=ca, entryway=True)
    with running(server) as pds:
        send_one(channel(pds, ca_file), social_outgoing("bluesky", [TEXT]))

        [login] = pds.calls("/xrpc/com.atproto.server.createSession")
        [create] = pds.calls(CREATE)
        assert login.headers["host"].startswith("127.0.0.1:")
        assert create.headers["host"].startswith("localhost:")
        assert len(pds.posts()) == 1


def test_rate_limit_is_transient_with_the_servers_wait_then_succeeds(
    pds: FakePds, ca_file: str
) -> None:
    pds.script(
        429,
        body={"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
        headers={"Retry-After": "30", "ratelimit-remaining": "0"},
        path="/xrpc/com.atproto.repo.createRecord",
    )
    outgoing = social_outgoing("bluesky", [TEXT])
    chan = channel(pds, ca_file)

    with pytest.raises(TransientError) as caught:
        send_one(chan, outgoing)
    assert caught.value.retry_after == 30
    assert not pds.posts()

    send_one(chan, outgoing)
    assert len(pds.posts()) == 1


def test_ratelimit_reset_is_read_when_there_is_no_retry_after(pds: FakePds, ca_file: str) -> None:
    now = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
    reset = str(int(now.timestamp()) + 120)
    pds.script(
        429,
        body={"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
        headers={"ratelimit-reset": reset},
        path="/xrpc/com.atproto.repo.createRecord",
    )
    account = BlueskyAccount(pds.url, HANDLE, PASSWORD)
    chan = BlueskyChannel(account, ca_file=ca_file, clock=lambda: now)
    with pytest.raises(TransientError) as caught:
        send_one(chan, social_outgoing("bluesky", [TEXT]))
    assert caught.value.retry_after == 120


def test_an_invalid_record_is_permanent(pds: FakePds, ca_file: str) -> None:
    with pytest.raises(PermanentError) as caught:
        send_one(channel(pds, ca_file), social_outgoing("bluesky", ["x" * 301]))
    assert "400" in str(caught.value) and "too long" in str(caught.value)


def test_a_server_error_without_a_record_is_transient(pds: FakePds, ca_file: str) -> None:
    pds.script(
        502,
        body={"error": "UpstreamFailure", "message": "Upstream Failure"},
        path="/xrpc/com.atproto.repo.createRecord",
    )
    with pytest.raises(TransientError):
        send_one(channel(pds, ca_file), social_outgoing("bluesky", [TEXT]))


def test_a_refused_login_is_permanent_and_never_shows_the_password(
    pds: FakePds, ca_file: str
) -> None:
    wrong = "app-pw-WRONG-0000"
    with pytest.raises(PermanentError) as caught:
        send_one(channel(pds, ca_file, password=wrong), social_outgoing("bluesky", [TEXT]))
    message = str(caught.value)
    assert HANDLE in message and "DEPESCHE_BLUESKY_PASSWORD_<SLUG>" in message
    assert wrong not in message and PASSWORD not in message
    assert wrong not in repr(channel(pds, ca_file, password=wrong).account)


def test_record_keys_follow_the_piece_time_the_slot_or_the_delivery(
    pds: FakePds, ca_file: str
) -> None:
    chan = channel(pds, ca_file)
    created = "2026-11-08T17:30:12+01:00"
    given = social_outgoing("bluesky", ["eins"], options={"created_at": created})
    scheduled = social_outgoing("bluesky", ["zwei"], slot="woche/social-20261109T0800Z")
    by_event = social_outgoing("bluesky", ["drei"], slot="woche/social-item-29a2fb951508")

    for outgoing in (given, scheduled, by_event, by_event):
        send_one(chan, outgoing)

    rkeys = {p.value["text"]: p.rkey for p in pds.posts()}
    assert len(pds.posts()) == 3
    assert rkeys["eins"] == tid_for(datetime.fromisoformat(created), f"{given.delivery_key}#1")
    due = datetime(2026, 11, 9, 8, 0, tzinfo=UTC)
    assert rkeys["zwei"] == tid_for(due, f"{scheduled.delivery_key}#1")
    assert TID_PATTERN.match(rkeys["drei"])


def test_a_malformed_piece_time_is_refused(pds: FakePds, ca_file: str) -> None:
    outgoing = social_outgoing("bluesky", [TEXT], options={"created_at": "gestern"})
    with pytest.raises(PermanentError, match="created_at"):
        send_one(channel(pds, ca_file), outgoing)


def test_channel_for_takes_handle_and_pds_from_the_workspace_and_the_password_from_the_env(
    pds: FakePds, ca_file: str, tmp_path: Path
) -> None:
    initiative = example_initiative(
        "nord-westfalen", {"bluesky": {"handle": HANDLE, "pds": pds.url}}
    )
    settings = Settings(workspace=tmp_path)

    with pytest.raises(ChannelNotReady) as caught:
        channel_for(initiative, settings, environ={})
    assert "DEPESCHE_BLUESKY_PASSWORD_NORD_WESTFALEN" in str(caught.value)

    environ = {"DEPESCHE_BLUESKY_PASSWORD_NORD_WESTFALEN": PASSWORD}
    chan = channel_for(initiative, settings, environ=environ, ca_file=ca_file)
    sent = list(send_all(chan, [social_outgoing("bluesky", [TEXT])]))
    assert [uri for _, uri in sent] == [post.uri for post in pds.posts()]
    assert PASSWORD not in repr(chan)


def test_channel_for_names_the_missing_handle(tmp_path: Path) -> None:
    initiative = example_initiative("krefeld", {"bluesky": {}})
    with pytest.raises(ChannelNotReady, match=r"channels\.bluesky\.handle"):
        channel_for(initiative, Settings(workspace=tmp_path), environ={})


def test_a_broken_post_file_is_permanent_and_named(pds: FakePds, ca_file: str) -> None:
    outgoing = social_outgoing("bluesky", [TEXT])
    files = tuple(
        Attachment(f.name, f.media_type, b"{") if f.name.endswith(".json") else f
        for f in outgoing.files
    )
    with pytest.raises(PermanentError, match=r"social-bluesky\.json"):
        send_one(channel(pds, ca_file), replace(outgoing, files=files))
    assert not pds.posts()
