"""The webhook channel against a receiver on loopback that verifies the signature."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import requests

from config.settings import Settings
from tests.social_servers import FakeWebhookReceiver, example_initiative, running, social_outgoing
from workers.channels.base import Outgoing, PermanentError, TransientError, send_all
from workers.channels.credentials import ChannelNotReady
from workers.channels.webhook import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    WebhookChannel,
    channel_for,
    sign,
    verify_signature,
)

SECRET = "whsec-Zq81-kR2m"
LOOPBACK = ["127.0.0.1/32"]


@pytest.fixture
def receiver() -> Iterator[FakeWebhookReceiver]:
    with running(FakeWebhookReceiver(secret=SECRET)) as server:
        yield server


def hook_url(receiver: FakeWebhookReceiver) -> str:
    return f"{receiver.url}/hooks/depesche?token=query-secret"


def channel(
    receiver: FakeWebhookReceiver,
    *,
    timeout: tuple[float, float] = (10.0, 30.0),
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> WebhookChannel:
    return WebhookChannel(
        hook_url(receiver), SECRET, allow_networks=LOOPBACK, timeout=timeout, clock=clock
    )


def send_one(chan: WebhookChannel, outgoing: Outgoing) -> str:
    with chan.connect() as connection:
        return connection.send(outgoing)


def piece() -> Outgoing:
    return social_outgoing(
        "mastodon", ["Grüße aus Krefeld 🏭 #Wasserstoff"], images=(("h", "Halle"),)
    )


def test_piece_arrives_signed_with_its_files(receiver: FakeWebhookReceiver) -> None:
    outgoing = piece()

    receipt = send_one(channel(receiver), outgoing)

    [request] = receiver.calls("/hooks/depesche")
    assert request.headers["idempotency-key"] == outgoing.delivery_key
    assert request.headers["x-depesche-signature"].startswith("sha256=")
    document = receiver.deliveries[outgoing.delivery_key]
    assert receipt.startswith("rcv-")
    assert document["key"] == outgoing.delivery_key
    assert (document["kind"], document["initiative"]) == ("social", "krefeld")
    # Read from the piece key, as the caller set no options.
    slot = "woche-der-industrie/social-20261109T0800Z"
    assert (document["campaign"], document["slot"]) == ("woche-der-industrie", slot)
    sent = {f["name"]: f for f in document["files"]}
    assert set(sent) == {f.name for f in outgoing.files}
    for original in outgoing.files:
        copy = sent[original.name]
        assert base64.b64decode(copy["content_base64"]) == original.content
        assert copy["sha256"] == hashlib.sha256(original.content).hexdigest()
        assert copy["media_type"] == original.media_type


def test_sending_the_same_delivery_again_is_recognisable_as_a_repeat(
    receiver: FakeWebhookReceiver,
) -> None:
    outgoing = piece()
    chan = channel(receiver)

    first = send_one(chan, outgoing)
    again = send_one(chan, outgoing)

    assert again == first
    assert len(receiver.calls("/hooks/depesche")) == 2
    assert list(receiver.deliveries) == [outgoing.delivery_key]


def test_rate_limit_is_transient_with_the_servers_wait_then_succeeds(
    receiver: FakeWebhookReceiver,
) -> None:
    receiver.script(429, body={"error": "slow down"}, headers={"Retry-After": "12"})
    chan = channel(receiver)

    with pytest.raises(TransientError) as caught:
        send_one(chan, piece())
    assert caught.value.retry_after == 12
    assert not receiver.deliveries

    send_one(chan, piece())
    assert len(receiver.deliveries) == 1


def test_retry_after_as_an_http_date_is_read_against_the_channels_clock(
    receiver: FakeWebhookReceiver,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    receiver.script(503, body={"error": "maintenance"}, headers={"Retry-After": later})
    with pytest.raises(TransientError) as caught:
        send_one(channel(receiver, clock=lambda: now), piece())
    assert caught.value.retry_after == 90


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(receiver: FakeWebhookReceiver, status: int) -> None:
    receiver.script(status, body={"error": "down"})
    with pytest.raises(TransientError, match=str(status)):
        send_one(channel(receiver), piece())


@pytest.mark.parametrize("status", [400, 404, 410, 422])
def test_other_client_errors_are_permanent(receiver: FakeWebhookReceiver, status: int) -> None:
    receiver.script(status, body={"error": "no"})
    with pytest.raises(PermanentError, match=str(status)):
        send_one(channel(receiver), piece())


def test_a_slow_receiver_is_a_transient_timeout(receiver: FakeWebhookReceiver) -> None:
    receiver.script(200, body={"id": "late"}, delay=1.5)
    with pytest.raises(TransientError, match="timed out"):
        send_one(channel(receiver, timeout=(2.0, 0.3)), piece())


def test_the_receiver_refuses_an_old_timestamp(receiver: FakeWebhookReceiver) -> None:
    stale = datetime.now(UTC) - timedelta(minutes=10)
    with pytest.raises(PermanentError, match="401"):
        send_one(channel(receiver, clock=lambda: stale), piece())
    assert receiver.refused == [f"{TIMESTAMP_HEADER} is outside the tolerance of 0:05:00"]
    assert not receiver.deliveries


def test_the_receiver_refuses_a_tampered_body(receiver: FakeWebhookReceiver) -> None:
    timestamp = str(int(datetime.now(UTC).timestamp()))
    body = json.dumps({"key": "k", "files": []}).encode()
    headers = {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(SECRET, timestamp, body),
        "Idempotency-Key": "k",
    }
    tampered = body.replace(b'"files": []', b'"files": [1]')

    answer = requests.post(hook_url(receiver), data=tampered, headers=headers, timeout=5)

    assert answer.status_code == 401
    assert receiver.refused == [f"{SIGNATURE_HEADER} does not match the body"]
    assert requests.post(hook_url(receiver), data=body, headers=headers, timeout=5).ok


def test_verify_signature_accepts_only_a_fresh_matching_signature() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    timestamp = str(int(now.timestamp()))
    body = b'{"key": "k"}'
    header = sign(SECRET, timestamp, body)

    verify_signature(SECRET, timestamp, body, header, now=now + timedelta(seconds=30))
    refused = [
        (SECRET, timestamp, body + b" ", header),  # tampered body
        ("other-secret", timestamp, body, header),  # wrong secret
        (SECRET, str(int(timestamp) + 1), body, header),  # timestamp changed
        (SECRET, timestamp, body, header.removeprefix("sha256=")),  # malformed header
        (SECRET, "", body, header),  # no timestamp
    ]
    for arguments in refused:
        with pytest.raises(SignatureError):
            verify_signature(*arguments, now=now)
    with pytest.raises(SignatureError, match="tolerance"):
        verify_signature(SECRET, timestamp, body, header, now=now + timedelta(minutes=6))
    with pytest.raises(SignatureError, match="tolerance"):  # from the future
        verify_signature(SECRET, timestamp, body, header, now=now - timedelta(minutes=6))


def test_loopback_is_refused_unless_the_workspace_allows_it(
    receiver: FakeWebhookReceiver,
) -> None:
    chan = WebhookChannel(hook_url(receiver), SECRET)
    with pytest.raises(PermanentError) as caught:
        send_one(chan, piece())
    message = str(caught.value)
    assert "allow_networks" in message and "loopback" in message
    assert SECRET not in message and "query-secret" not in message
    assert not receiver.requests


def test_errors_and_repr_never_show_the_secret_or_the_query(
    receiver: FakeWebhookReceiver,
) -> None:
    receiver.script(503, body={"error": SECRET})
    chan = channel(receiver)
    with pytest.raises(TransientError) as caught:
        send_one(chan, piece())
    for text in (str(caught.value), repr(chan)):
        assert SECRET not in text and "query-secret" not in text


def test_channel_for_reads_url_secret_and_allowed_networks(
    receiver: FakeWebhookReceiver, tmp_path: Path
) -> None:
    initiative = example_initiative("nord-westfalen", {"webhook": {"url": hook_url(receiver)}})
    settings = Settings(workspace=tmp_path)

    with pytest.raises(ChannelNotReady) as caught:
        channel_for(initiative, settings, environ={})
    assert "DEPESCHE_WEBHOOK_SECRET_NORD_WESTFALEN" in str(caught.value)

    environ = {"DEPESCHE_WEBHOOK_SECRET_NORD_WESTFALEN": SECRET}
    (tmp_path / "depesche.toml").write_text('[fetch]\nallow_networks = ["127.0.0.1/32"]\n')
    chan = channel_for(initiative, settings, environ=environ)
    sent = list(send_all(chan, [piece()]))
    assert len(sent) == 1 and len(receiver.deliveries) == 1


def test_channel_for_names_the_missing_url(tmp_path: Path) -> None:
    with pytest.raises(ChannelNotReady, match=r"channels\.webhook\.url"):
        channel_for(example_initiative("krefeld", {}), Settings(workspace=tmp_path), environ={})


def test_plain_http_is_refused_in_the_workspace_except_to_this_machine() -> None:
    with pytest.raises(ValueError, match="https"):
        example_initiative("krefeld", {"webhook": {"url": "http://hooks.example.org/in"}})
    example_initiative("krefeld", {"webhook": {"url": "https://hooks.example.org/in"}})
    example_initiative("krefeld", {"webhook": {"url": "http://127.0.0.1:8080/in"}})
