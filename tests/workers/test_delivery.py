"""Delivery exactly once, against a real SMTP server (aiosmtpd on loopback).

A piece is approved (``piece.approved``, handled through the real handler registry), routed to
its recipients, and released: each recipient's mail arrives once, a second release sends
nothing, a server that is down and comes back delivers each once, a 5xx recipient fails for
good, and a row left ``sending`` by a dead worker becomes ``unknown`` and is resent only when an
operator says so. Time is injected: the tests move the clock instead of waiting.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, update

import workers.delivery_runtime as runtime
from campaigns.workspace import Workspace
from config.db import session_scope
from config.settings import Settings
from content.models import Piece
from tests.mail_sink import MailSink
from tests.workers.delivery_support import (
    CAMPAIGN,
    DELIVERABLE,
    SLOT,
    Lists,
    add_piece,
    approve,
    events_of,
    subscribers,
    with_channels,
)
from workers.channels.base import Outgoing, TransientError
from workers.channels.smtp import SmtpChannel
from workers.delivery import (
    DEFAULT_LEASE,
    Channels,
    ReleaseReport,
    RetryPolicy,
    release,
    resend,
)
from workers.delivery_runtime import route_pending
from workers.execution import workspace_for
from workers.handlers import EventContext, handle
from workers.models import Delivery
from workers.recipients import Recipient

NOW = datetime(2026, 11, 16, 7, 0, tzinfo=UTC)


class Clock:
    def __init__(self, at: datetime = NOW) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture()
def workspace(example_workspace: Path) -> Path:
    with_channels(example_workspace, CAMPAIGN, DELIVERABLE, ["folder", "email"])
    return example_workspace


def _approved_digest(database_url: str, workspace: Path, lists: Lists) -> str:
    """A digest piece approved and routed through the registered ``piece.approved`` handler
    (with the test's recipient lists in place of the subscriber module's)."""
    with session_scope(database_url) as session:
        key = add_piece(session, now=NOW, state="draft").key
    event_id = approve(database_url, key, NOW)
    context = EventContext(database_url, workspace, workspace / "out", False, NOW)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runtime, "SubscriberLists", lambda: lists)
        ran = handle(context, event_id)
    assert "workers.delivery_runtime.route_approved_piece" in ran
    return key


def _release(
    database_url: str,
    workspace: Path,
    sink_url: str,
    clock: Callable[[], datetime],
    lists: Lists,
) -> ReleaseReport:
    channels = Channels(mail=SmtpChannel.from_url(sink_url, settings=Settings()))
    return release(
        database_url,
        workspace_for(workspace),
        channels,
        clock=clock,
        recipients=lists,
        rng=random.Random(1),
    )


def _rows(database_url: str) -> list[Delivery]:
    with session_scope(database_url) as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def _piece_state(database_url: str, key: str) -> str:
    with session_scope(database_url) as session:
        piece = session.scalar(select(Piece).where(Piece.key == key))
        assert piece is not None
        return piece.state


def test_approved_piece_reaches_each_subscriber_exactly_once(
    database_url: str, workspace: Path, mail_sink: MailSink
) -> None:
    lists = Lists(subscribers=subscribers(3))
    key = _approved_digest(database_url, workspace, lists)
    rows = _rows(database_url)
    assert [r.key for r in rows] == [f"{key}|email|subscriber:{n}" for n in range(3)]
    assert {r.status for r in rows} == {"pending"}
    assert _piece_state(database_url, key) == "scheduled"

    report = _release(database_url, workspace, mail_sink.url, Clock(), lists)

    assert report.sent == 3
    received = mail_sink.received()
    assert sorted(r.rcpt_tos[0] for r in received) == [f"leser{n}@example.org" for n in range(3)]
    ids = {r.message["Message-ID"] for r in received}
    assert len(ids) == 3
    assert all(
        r.message["List-Unsubscribe"].startswith("<https://depesche.example.org/u/token")
        for r in received
    )
    rows = _rows(database_url)
    assert {r.status for r in rows} == {"sent"}
    assert {r.external_id for r in rows} == ids
    assert _piece_state(database_url, key) == "delivered"
    assert len(events_of(database_url, "delivery.succeeded")) == 3

    # A second release, and routing the piece again, change nothing.
    assert (
        _release(
            database_url, workspace, mail_sink.url, Clock(NOW + timedelta(hours=1)), lists
        ).sent
        == 0
    )
    assert route_pending(database_url, workspace, now=NOW, recipients=lists) == 0
    assert len(mail_sink.received()) == 3


def test_smtp_down_then_up_delivers_each_once(
    database_url: str, workspace: Path, mail_sink: MailSink
) -> None:
    lists = Lists(subscribers=subscribers(4))
    _approved_digest(database_url, workspace, lists)
    clock = Clock()
    mail_sink.stop()

    report = _release(database_url, workspace, mail_sink.url, clock, lists)

    assert report.sent == 0 and report.retrying == 4
    rows = _rows(database_url)
    assert {r.status for r in rows} == {"pending"}
    assert all(r.next_attempt_at is not None and r.next_attempt_at > NOW for r in rows)
    assert all("unreachable" in (r.last_error or "") for r in rows)
    # Backing off: a release before next_attempt_at tries nothing, even with the server back.
    mail_sink.start()
    assert _release(database_url, workspace, mail_sink.url, clock, lists).claimed == 0
    assert mail_sink.received() == []

    clock.advance(RetryPolicy().base)
    assert _release(database_url, workspace, mail_sink.url, clock, lists).sent == 4
    assert _release(database_url, workspace, mail_sink.url, clock, lists).sent == 0
    received = sorted(r.rcpt_tos[0] for r in mail_sink.received())
    assert received == [f"leser{n}@example.org" for n in range(4)]
    assert {(r.status, r.attempts) for r in _rows(database_url)} == {("sent", 2)}


def test_rejected_recipient_fails_for_good_and_is_not_retried(
    database_url: str, workspace: Path, mail_sink: MailSink
) -> None:
    lists = Lists(subscribers=subscribers(3))
    key = _approved_digest(database_url, workspace, lists)
    mail_sink.reject["leser1@example.org"] = "550 5.1.1 Mailbox unavailable"
    clock = Clock()

    report = _release(database_url, workspace, mail_sink.url, clock, lists)

    assert (report.sent, report.failed) == (2, 1)
    failed = [r for r in _rows(database_url) if r.status == "failed"]
    assert [r.target_ref for r in failed] == ["subscriber:1"]
    assert "550" in (failed[0].last_error or "")
    assert failed[0].next_attempt_at is None
    assert _piece_state(database_url, key) == "failed"
    assert [e.payload["target"] for e in events_of(database_url, "delivery.failed")] == [
        "subscriber:1"
    ]
    clock.advance(24 * 3600)
    assert _release(database_url, workspace, mail_sink.url, clock, lists).claimed == 0
    assert len(mail_sink.received()) == 2


def test_a_connection_lost_during_data_is_unknown_and_not_sent_again(
    database_url: str, workspace: Path, mail_sink: MailSink
) -> None:
    """The server may have taken the message before the line dropped: never resend on our own."""
    lists = Lists(subscribers=subscribers(3))
    _approved_digest(database_url, workspace, lists)
    mail_sink.drop.add("leser1@example.org")
    clock = Clock()

    _release(database_url, workspace, mail_sink.url, clock, lists)
    mail_sink.drop.clear()
    clock.advance(24 * 3600)
    _release(database_url, workspace, mail_sink.url, clock, lists)

    states = {r.target_ref: r.status for r in _rows(database_url)}
    assert states == {"subscriber:0": "sent", "subscriber:1": "unknown", "subscriber:2": "sent"}
    received = sorted(r.rcpt_tos[0] for r in mail_sink.received())
    assert received == ["leser0@example.org", "leser2@example.org"]


def test_worker_dead_while_sending_leaves_unknown_resent_only_by_operator(
    database_url: str, workspace: Path, mail_sink: MailSink
) -> None:
    lists = Lists(subscribers=subscribers(1))
    _approved_digest(database_url, workspace, lists)
    # What a worker killed mid-send leaves behind: the claim committed, no outcome.
    with session_scope(database_url) as session:
        session.execute(
            update(Delivery).values(
                status="sending", attempts=1, lease_until=NOW + timedelta(minutes=5)
            )
        )
    clock = Clock()
    assert (
        _release(database_url, workspace, mail_sink.url, clock, lists).claimed == 0
    )  # lease still held

    clock.advance(6 * 60)
    report = _release(database_url, workspace, mail_sink.url, clock, lists)

    assert (report.unknown, report.claimed) == (1, 0)
    [row] = _rows(database_url)
    assert row.status == "unknown"
    assert [e.payload["delivery"] for e in events_of(database_url, "delivery.unknown")] == [row.id]
    clock.advance(3600)
    assert _release(database_url, workspace, mail_sink.url, clock, lists).claimed == 0
    assert mail_sink.received() == []

    with session_scope(database_url) as session:
        resend(session, row.id, now=clock())
    assert _release(database_url, workspace, mail_sink.url, clock, lists).sent == 1
    assert len(mail_sink.received()) == 1
    assert _rows(database_url)[0].status == "sent"


class RateLimited:
    """A channel whose server answers 429 with Retry-After, then accepts."""

    name = "mastodon"

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        self.sent: list[str] = []
        self.calls = 0

    def connect(self):  # type: ignore[no-untyped-def]
        from contextlib import nullcontext

        return nullcontext(self)

    def send(self, outgoing: Outgoing) -> str:
        self.calls += 1
        if self.calls == 1:
            raise TransientError("HTTP 429", retry_after=self.retry_after)
        self.sent.append(outgoing.delivery_key)
        return f"status-{self.calls}"


def _mastodon_piece(database_url: str, workspace: Path) -> Workspace:
    """A social piece for Mastodon, routed to krefeld's account (added to the copy)."""
    with_channels(workspace, "woche-der-industrie", "social", ["mastodon"])
    path = workspace / "initiatives.yaml"
    data = yaml.safe_load(path.read_text())
    for entry in data["initiatives"]:
        if entry["slug"] == "krefeld":
            entry.setdefault("channels", {})["mastodon"] = {
                "instance": "https://social.example.org"
            }
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    with session_scope(database_url) as session:
        piece = add_piece(
            session,
            now=NOW,
            key="woche-der-industrie/social/x/krefeld/social/mastodon",
            kind="social",
            campaign="woche-der-industrie",
            deliverable="social",
            files={"social-mastodon.txt": b"Post"},
        )
        piece.platform = "mastodon"
    assert route_pending(database_url, workspace, now=NOW, recipients=Lists()) == 1
    return workspace_for(workspace)


def test_retry_after_is_waited_out(database_url: str, example_workspace: Path) -> None:
    ws = _mastodon_piece(database_url, example_workspace)
    channel = RateLimited(retry_after=120)
    clock = Clock()
    channels = Channels(factories={"mastodon": lambda initiative: channel})

    release(database_url, ws, channels, clock=clock, recipients=Lists())
    [row] = _rows(database_url)
    assert row.status == "pending"
    assert row.next_attempt_at is not None and row.next_attempt_at >= NOW + timedelta(seconds=120)
    clock.advance(119)
    assert release(database_url, ws, channels, clock=clock, recipients=Lists()).claimed == 0
    clock.advance(61)  # first retry: Retry-After, or the backoff if that is longer
    assert release(database_url, ws, channels, clock=clock, recipients=Lists()).sent == 1
    assert channel.sent == [row.key]


def test_suppressed_address_gets_nothing(
    database_url: str, workspace: Path, mail_sink: MailSink
) -> None:
    lists = Lists(subscribers=subscribers(2))
    key = _approved_digest(database_url, workspace, lists)
    lists.suppressed.add("leser0@example.org")  # bounced after routing, before sending

    report = _release(database_url, workspace, mail_sink.url, Clock(), lists)

    assert (report.sent, report.suppressed) == (1, 1)
    assert [r.rcpt_tos for r in mail_sink.received()] == [("leser1@example.org",)]
    assert {r.target_ref: r.status for r in _rows(database_url)} == {
        "subscriber:0": "suppressed",
        "subscriber:1": "sent",
    }
    assert _piece_state(database_url, key) == "delivered"


def test_press_release_waits_for_its_sperrfrist(
    database_url: str, example_workspace: Path, mail_sink: MailSink
) -> None:
    workspace = example_workspace
    from campaigns.schema import PressReleaseDeliverable
    from campaigns.triggers import resolve_instant
    from campaigns.workspace import load_workspace

    with_channels(example_workspace, "woche-der-industrie", "pressemitteilung", ["press"])
    campaign = load_workspace(example_workspace).campaigns["woche-der-industrie"]
    release_spec = next(d for d in campaign.deliverables if d.id == "pressemitteilung")
    assert isinstance(release_spec, PressReleaseDeliverable) and release_spec.embargo
    sperrfrist = resolve_instant(release_spec.embargo, campaign)
    before = sperrfrist - timedelta(hours=2)
    lists = Lists(
        press=[Recipient("redaktion@zeitung.example.org", "Jana Redakteurin", "journalist:1")]
    )
    with session_scope(database_url) as session:
        add_piece(
            session,
            now=before,
            key="woche-der-industrie/pressemitteilung/x/krefeld/press_release",
            kind="press_release",
            campaign="woche-der-industrie",
            deliverable="pressemitteilung",
            files={
                "press_release.md": "# Überschrift\n\nText".encode(),
                "press_release.pdf": b"%PDF",
            },
            facts={"headline": "Krefeld eröffnet die Woche der Industrie"},
        )
    route_pending(database_url, example_workspace, now=before, recipients=lists)
    [row] = _rows(database_url)
    assert row.due_at == sperrfrist

    assert _release(database_url, workspace, mail_sink.url, Clock(before), lists).claimed == 0
    assert _release(database_url, workspace, mail_sink.url, Clock(sperrfrist), lists).sent == 1
    [mail] = mail_sink.received()
    message = mail.message
    assert message["Subject"] == "Pressemitteilung: Krefeld eröffnet die Woche der Industrie"
    body = message.get_body(("plain",))
    assert body is not None and "Guten Tag Jana Redakteurin," in body.get_content()
    assert [p.get_filename() for p in message.iter_attachments()] == ["press_release.pdf"]


def test_content_pack_goes_once_per_slot_to_the_press_contact(
    database_url: str, example_workspace: Path, mail_sink: MailSink
) -> None:
    workspace = example_workspace
    with_channels(workspace, CAMPAIGN, DELIVERABLE, ["folder", "pack"])
    contact = workspace_for(workspace).initiatives["krefeld"].press_contact
    with session_scope(database_url) as session:
        first, second = (
            add_piece(session, now=NOW, key=f"{SLOT}/krefeld/{n}", files={f"{n}.eml": b"x"}).key
            for n in ("a", "b")
        )
    assert route_pending(database_url, workspace, now=NOW, recipients=Lists()) == 1
    [row] = _rows(database_url)
    assert (row.channel, row.target) == ("pack", contact.email)

    assert _release(database_url, workspace, mail_sink.url, Clock(), Lists()).sent == 1
    [mail] = mail_sink.received()
    assert mail.rcpt_tos == (contact.email,)
    [zipped] = list(mail.message.iter_attachments())
    assert zipped.get_filename() == "krefeld-20261116T0700Z.zip"
    assert {_piece_state(database_url, key) for key in (first, second)} == {"delivered"}


class Exploding(RateLimited):
    def send(self, outgoing: Outgoing) -> str:
        raise RuntimeError("socket closed after the request was written")


def test_an_unexpected_error_while_sending_is_unknown_not_retried(
    database_url: str, example_workspace: Path
) -> None:
    ws = _mastodon_piece(database_url, example_workspace)
    channels = Channels(factories={"mastodon": lambda initiative: Exploding(0)})

    report = release(database_url, ws, channels, clock=Clock(), recipients=Lists())

    assert report.unknown == 1
    [row] = _rows(database_url)
    assert row.status == "unknown" and "may have left" in (row.last_error or "")
    assert len(events_of(database_url, "delivery.unknown")) == 1
    assert release(database_url, ws, channels, clock=Clock(), recipients=Lists()).claimed == 0


class SlowServer(RateLimited):
    """Each send takes as long as the whole lease (a rate limit, a crawling server)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(0)
        self.clock = clock

    def send(self, outgoing: Outgoing) -> str:
        self.clock.advance(DEFAULT_LEASE.total_seconds())
        self.sent.append(outgoing.target)
        return f"<{len(self.sent)}@example.org>"


def test_rows_not_sent_within_half_the_lease_are_given_back_untried(
    database_url: str, workspace: Path
) -> None:
    lists = Lists(subscribers=subscribers(3))
    _approved_digest(database_url, workspace, lists)
    clock = Clock()
    server = SlowServer(clock)

    report = release(
        database_url, workspace_for(workspace), Channels(mail=server), clock=clock, recipients=lists
    )

    assert (report.sent, server.sent) == (1, ["leser0@example.org"])
    rows = {r.target_ref: (r.status, r.attempts) for r in _rows(database_url)}
    assert rows == {
        "subscriber:0": ("sent", 1),
        "subscriber:1": ("pending", 0),
        "subscriber:2": ("pending", 0),
    }


def test_subscriber_lists_decide_who_gets_the_digest_and_who_is_suppressed(
    database_url: str, workspace: Path, mail_sink: MailSink
) -> None:
    """The real subscriber module behind the handler and the release: confirmed subscribers of
    the piece's audience receive it with their signed unsubscribe link; an unconfirmed address
    gets nothing; one that bounced after routing is suppressed at send time."""
    from config.settings import configure, load_settings
    from workers import subscribers

    configure(
        load_settings(
            workspace,
            database_url=database_url,
            secret_key="test-secret-delivery-0123456789abcdef",
            public_url="https://news.example.org",
        )
    )
    try:
        with session_scope(database_url) as session:
            people = {
                address: subscribers.sign_up(
                    session,
                    initiative="krefeld",
                    address=address,
                    name=None,
                    audience="betriebsraete",
                    source="cli",
                    ip=None,
                    consent_version=None,
                    now=NOW,
                )
                for address in ("erika@example.org", "max@example.org", "offen@example.org")
            }
            for address in ("erika@example.org", "max@example.org"):
                subscribers.confirm(session, people[address].id, None, ip=None, now=NOW)
            key = add_piece(session, now=NOW, state="draft", audience="betriebsraete").key
        event_id = approve(database_url, key, NOW)
        handle(EventContext(database_url, workspace, workspace / "out", False, NOW), event_id)
        assert sorted(r.target for r in _rows(database_url)) == [
            "erika@example.org",
            "max@example.org",
        ]
        with session_scope(database_url) as session:
            subscribers.suppress(session, "max@example.org", "bounce", now=NOW)

        channels = Channels(mail=SmtpChannel.from_url(mail_sink.url, settings=Settings()))
        report = release(database_url, workspace_for(workspace), channels, clock=Clock())
    finally:
        configure(None)

    assert (report.sent, report.suppressed) == (1, 1)
    [mail] = mail_sink.received()
    assert mail.rcpt_tos == ("erika@example.org",)
    assert mail.message["List-Unsubscribe"].startswith("<https://news.example.org/u/")
    assert _piece_state(database_url, key) == "delivered"
