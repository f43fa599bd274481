"""A social piece through the release step to a fake Mastodon instance (real Mastodon.py, TLS on
loopback): posted once, its status id recorded, and a second release posts nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trustme
import yaml
from sqlalchemy import select

from config.db import session_scope
from tests.social_servers import FakeMastodon, FakeWebhookReceiver, running
from tests.workers.delivery_support import SLOT, Lists, add_piece, events_of, with_channels
from workers.channels.mastodon import MastodonAccount, MastodonChannel
from workers.channels.webhook import WebhookChannel
from workers.delivery import Channels, release
from workers.delivery_runtime import route_pending
from workers.execution import workspace_for
from workers.models import Delivery

NOW = datetime(2026, 11, 9, 8, 0, tzinfo=UTC)
TOKEN = "mastodon-token-Delivery7"
KEY = "woche-der-industrie/social-20261109T0800Z/krefeld/social/mastodon"


@pytest.fixture()
def instance(tmp_path: Path) -> Iterator[tuple[FakeMastodon, str]]:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with running(FakeMastodon(token=TOKEN, ca=ca)) as server:
        yield server, str(ca_file)


def test_social_piece_is_posted_once_with_its_status_id(
    database_url: str, example_workspace: Path, instance: tuple[FakeMastodon, str]
) -> None:
    server, ca_file = instance
    with_channels(example_workspace, "woche-der-industrie", "social", ["folder", "mastodon"])
    path = example_workspace / "initiatives.yaml"
    data = yaml.safe_load(path.read_text())
    for entry in data["initiatives"]:
        if entry["slug"] == "krefeld":
            entry.setdefault("channels", {})["mastodon"] = {"instance": server.url}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    with session_scope(database_url) as session:
        piece = add_piece(
            session,
            now=NOW,
            key=KEY,
            kind="social",
            campaign="woche-der-industrie",
            deliverable="social",
            slot="woche-der-industrie/social-20261109T0800Z",
            files={"social-mastodon.txt": "Grüße aus Krefeld: Woche der Industrie".encode()},
        )
        piece.platform = "mastodon"
    assert route_pending(database_url, example_workspace, now=NOW, recipients=Lists()) == 1
    channel = MastodonChannel(MastodonAccount(server.url, TOKEN), ca_file=ca_file, timeout=10)
    channels = Channels(factories={"mastodon": lambda initiative: channel})
    ws = workspace_for(example_workspace)

    assert release(database_url, ws, channels, clock=lambda: NOW, recipients=Lists()).sent == 1
    assert release(database_url, ws, channels, clock=lambda: NOW, recipients=Lists()).sent == 0

    posted = server.calls("/api/v1/statuses")
    assert len(posted) == 1
    with session_scope(database_url) as session:
        [row] = session.scalars(select(Delivery))
        assert (row.key, row.status) == (f"{KEY}|mastodon|account:krefeld", "sent")
        assert row.external_id
    [event] = events_of(database_url, "delivery.succeeded")
    assert event.payload["external_id"] == row.external_id


def test_content_pack_goes_to_the_initiatives_webhook_signed_and_once(
    database_url: str, example_workspace: Path
) -> None:
    secret = "whsec-Delivery-9"
    with running(FakeWebhookReceiver(secret=secret)) as receiver:
        url = f"{receiver.url}/hooks/depesche"
        with_channels(example_workspace, "wochenrueckblick", "digest", ["folder", "pack"])
        path = example_workspace / "initiatives.yaml"
        data = yaml.safe_load(path.read_text())
        for entry in data["initiatives"]:
            if entry["slug"] == "krefeld":
                entry.setdefault("channels", {})["webhook"] = {"url": url}
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
        with session_scope(database_url) as session:
            add_piece(session, now=NOW, key=f"{SLOT}/krefeld/newsletter")
        assert route_pending(database_url, example_workspace, now=NOW, recipients=Lists()) == 1
        hook = WebhookChannel(url, secret, allow_networks=["127.0.0.1/32"])
        channels = Channels(factories={"webhook": lambda initiative: hook})
        ws = workspace_for(example_workspace)

        assert release(database_url, ws, channels, clock=lambda: NOW, recipients=Lists()).sent == 1
        assert release(database_url, ws, channels, clock=lambda: NOW, recipients=Lists()).sent == 0

        assert receiver.refused == []
        [(key, body)] = receiver.deliveries.items()
        assert key == f"{SLOT}/krefeld|pack|webhook:krefeld"
        assert [f["name"] for f in body["files"]] == ["krefeld-20261116T0700Z.zip"]
        assert len(receiver.calls("/hooks/depesche")) == 1
