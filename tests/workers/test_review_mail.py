"""Review mails and test copies, received by a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from campaigns.workspace import Workspace, load_workspace
from config.cli import app
from config.db import session_scope
from config.models import Event, record_event
from config.settings import configure, load_settings
from content.email_message import build_eml
from content.models import Piece, PieceFile, PieceTransition, ReviewNotification
from content.review import approve
from tests.content.review_pieces import AFTER, BEFORE, make_piece
from tests.mail_sink import MailSink
from workers.channels.smtp import SmtpChannel
from workers.handlers import EventContext, handle
from workers.review_mail import TEST_HEADER, notify_reviewers


@pytest.fixture()
def workspace(example_workspace: Path) -> Workspace:
    return load_workspace(example_workspace)


@pytest.fixture()
def settings_for(database_url: str, example_workspace: Path, mail_sink: MailSink) -> Iterator[None]:
    """What a worker or the CLI would see: this database, this workspace, the sink as server."""
    configure(load_settings(example_workspace, database_url=database_url, smtp_url=mail_sink.url))
    yield
    configure(None)


def _body(message: object) -> str:
    from email.message import EmailMessage

    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def test_reviewers_of_each_level_are_mailed_once(
    database_url: str, workspace: Workspace, mail_sink: MailSink, settings_for: None
) -> None:
    with session_scope(database_url) as session:
        piece_id = make_piece(session, workspace).id
    channel = SmtpChannel.from_url(mail_sink.url)

    sent = notify_reviewers(database_url, workspace, piece_id, channel, now=BEFORE)
    assert [(r.level, r.address, r.status) for r in sent] == [
        ("network", "presse@buendnis.example.org", "sent")
    ]
    # A repeat (a second event, a retried task) sends nothing.
    assert notify_reviewers(database_url, workspace, piece_id, channel, now=AFTER) == []
    [mail] = mail_sink.received()
    assert mail.rcpt_tos == ("presse@buendnis.example.org",)
    message = mail.message
    assert message["Subject"] == (
        "Freigabe erbeten: Pressemitteilung „Woche der Industrie 2026“ – "
        "Industrieinitiative Krefeld"
    )
    body = _body(message)
    assert body.startswith("Guten Tag,")
    assert f"depesche review approve {piece_id} --level network" in body
    assert "Sperrfrist: Montag, 9. November 2026, 10:00\u00a0Uhr" in body
    assert "krefeld eröffnet die Woche der Industrie" in body  # the preview
    attached = [part.get_filename() for part in message.iter_attachments()]
    assert attached == ["press_release.html"]

    # The PR team approves: now the initiative's press contact is asked, once.
    with session_scope(database_url) as session:
        piece = session.get(Piece, piece_id)
        assert piece is not None
        approve(session, piece, actor="Dr. Judith Rehberg", now=AFTER)
    sent = notify_reviewers(database_url, workspace, piece_id, channel, now=AFTER)
    assert [(r.level, r.address) for r in sent] == [("initiative", "presse@krefeld.example.org")]
    assert notify_reviewers(database_url, workspace, piece_id, channel, now=AFTER) == []
    assert [m.rcpt_tos for m in mail_sink.received()] == [
        ("presse@buendnis.example.org",),
        ("presse@krefeld.example.org",),
    ]
    assert "--level initiative" in _body(mail_sink.received()[1].message)


def test_a_mail_that_failed_is_sent_by_the_next_try(
    database_url: str, workspace: Workspace, mail_sink: MailSink, settings_for: None
) -> None:
    with session_scope(database_url) as session:
        piece_id = make_piece(session, workspace).id
    channel = SmtpChannel.from_url(mail_sink.url)
    mail_sink.stop()
    [failed] = notify_reviewers(database_url, workspace, piece_id, channel, now=BEFORE)
    assert failed.status == "failed"
    assert "127.0.0.1" in str(failed.error)
    mail_sink.start()
    [sent] = notify_reviewers(database_url, workspace, piece_id, channel, now=AFTER)
    assert sent.status == "sent"
    assert notify_reviewers(database_url, workspace, piece_id, channel, now=AFTER) == []
    assert len(mail_sink.received()) == 1
    with session_scope(database_url) as session:
        [row] = session.scalars(select(ReviewNotification))
        assert (row.status, row.sent_at) == ("sent", AFTER)


def test_drafted_event_mails_the_reviewers_through_the_handler(
    database_url: str,
    workspace: Workspace,
    example_workspace: Path,
    mail_sink: MailSink,
    settings_for: None,
) -> None:
    with session_scope(database_url) as session:
        piece = make_piece(session, workspace)
        event = record_event(session, "piece.drafted", "test:drafted", {"piece": piece.key}, BEFORE)
        session.flush()
        event_id = event.id
    context = EventContext(
        database_url=database_url,
        workspace_root=example_workspace,
        out_dir=example_workspace / "out",
        distributed=False,
        now=BEFORE,
    )
    ran = handle(context, event_id)
    assert "workers.review_mail.notify_on_review_event" in ran
    handle(context, event_id)  # delivered twice by the outbox: still one mail
    assert [m.rcpt_tos for m in mail_sink.received()] == [("presse@buendnis.example.org",)]


def test_send_test_marks_the_copy_and_counts_no_delivery(
    database_url: str,
    workspace: Workspace,
    example_workspace: Path,
    mail_sink: MailSink,
    settings_for: None,
) -> None:
    with session_scope(database_url) as session:
        piece_id = make_piece(session, workspace).id
    env = {
        "DEPESCHE_DATABASE_URL": database_url,
        "DEPESCHE_WORKSPACE": str(example_workspace),
        "DEPESCHE_SMTP_URL": mail_sink.url,
    }
    result = CliRunner().invoke(
        app, ["send-test", str(piece_id), "--to", "lena.haegele@example.org"], env=env
    )
    assert result.exit_code == 0, result.output
    [mail] = mail_sink.received()
    assert mail.rcpt_tos == ("lena.haegele@example.org",)
    assert mail.message["Subject"].startswith("[TEST] Pressemitteilung")
    assert mail.message[TEST_HEADER] == "yes"
    assert "Testversand" in _body(mail.message)
    with session_scope(database_url) as session:
        piece = session.get(Piece, piece_id)
        assert piece is not None and piece.state == "draft"
        moves = session.scalar(select(func.count()).select_from(PieceTransition))
        assert moves == 0
        [event] = session.scalars(select(Event).where(Event.type == "piece.test_sent"))
        assert event.payload["to"] == "lena.haegele@example.org"
    unknown = CliRunner().invoke(app, ["send-test", "9999", "--to", "x@example.org"], env=env)
    assert unknown.exit_code == 1
    assert "no piece with id or key '9999'" in unknown.stderr


def test_send_test_of_a_newsletter_sends_its_own_message_marked(
    database_url: str, workspace: Workspace, mail_sink: MailSink, settings_for: None
) -> None:
    from workers.review_mail import send_test

    eml = build_eml(
        key="kickoff/thueringen",
        sender_name="Allianz Industrie Thüringen",
        sender_email="newsletter@thueringen.example.org",
        reply_to=None,
        subject="Woche der Industrie: Programm und Termine",
        preheader="Die Allianz Industrie Thüringen lädt in die Betriebe ein",
        text="Guten Tag,\n\ndas Programm der Woche der Industrie.",
        html="<p>Guten Tag,</p><p>das Programm der Woche der Industrie.</p>",
        date=BEFORE,
    )
    with session_scope(database_url) as session:
        piece = make_piece(
            session, workspace, deliverable="kickoff", kind="newsletter", initiative="thueringen"
        )
        piece.files.append(
            PieceFile(
                name="newsletter.eml",
                media_type="message/rfc822",
                content=eml,
                sha256=hashlib.sha256(eml).hexdigest(),
            )
        )
        piece_id = piece.id
    channel = SmtpChannel.from_url(mail_sink.url)
    send_test(database_url, workspace, str(piece_id), "test@example.org", channel, now=AFTER)
    [mail] = mail_sink.received()
    assert mail.message["Subject"] == "[TEST] Woche der Industrie: Programm und Termine"
    assert mail.message[TEST_HEADER] == "yes"
    assert mail.message["From"] == "Allianz Industrie Thüringen <newsletter@thueringen.example.org>"
    assert "das Programm der Woche der Industrie." in _body(mail.message)


def test_beat_marks_pieces_of_a_changed_campaign_stale(
    database_url: str, workspace: Workspace, example_workspace: Path, settings_for: None
) -> None:
    from workers.beat import beat_schedule
    from workers.tasks import mark_stale

    entry = beat_schedule(workspace, load_settings(example_workspace))["mark-stale"]
    assert entry["task"] == "depesche.mark_stale"
    with session_scope(database_url) as session:
        piece_id = make_piece(session, workspace).id
    assert mark_stale() == 0  # the task's body, as a worker runs it (no broker needed)
    path = example_workspace / "campaigns" / "woche-der-industrie.yaml"
    text = path.read_text(encoding="utf-8")
    other = example_workspace / "campaigns" / "wochenrueckblick.yaml"
    before = other.read_text(encoding="utf-8")
    other.write_text(before.replace("place: Berlin", "place: Berlin-Mitte"), encoding="utf-8")
    assert mark_stale() == 0  # another campaign changed: nothing of this one goes stale
    path.write_text(text.replace("lookback: 14d", "lookback: 10d"), encoding="utf-8")
    assert mark_stale() == 0  # the kickoff changed, not the press release
    path.write_text(text.replace("subline: Betriebe,", "subline: Unternehmen,"), encoding="utf-8")
    assert mark_stale() == 1
    with session_scope(database_url) as session:
        piece = session.get(Piece, piece_id)
        assert piece is not None and piece.state == "stale"


def test_review_notify_command_catches_up_once(
    database_url: str,
    workspace: Workspace,
    example_workspace: Path,
    mail_sink: MailSink,
    settings_for: None,
) -> None:
    with session_scope(database_url) as session:
        make_piece(session, workspace)
        make_piece(session, workspace, initiative="thueringen")
        make_piece(session, workspace, deliverable="kickoff", kind="newsletter")  # auto
    env = {
        "DEPESCHE_DATABASE_URL": database_url,
        "DEPESCHE_WORKSPACE": str(example_workspace),
        "DEPESCHE_SMTP_URL": mail_sink.url,
    }
    first = CliRunner().invoke(app, ["review", "notify"], env=env)
    assert first.exit_code == 0, first.output
    assert "2 review mails sent, 0 failed" in first.stdout
    second = CliRunner().invoke(app, ["review", "notify"], env=env)
    assert "0 review mails sent, 0 failed" in second.stdout
    assert len(mail_sink.received()) == 2
    without = CliRunner().invoke(app, ["review", "notify"], env={**env, "DEPESCHE_SMTP_URL": ""})
    assert without.exit_code == 1
    assert "DEPESCHE_SMTP_URL is not set" in without.stderr
