"""Bounce (RFC 3464) and complaint (RFC 5965) reports feed the suppression list; the report."""

from __future__ import annotations

import mailbox
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from config.db import session_scope
from tests.services import ROOT, depesche_command, depesche_env
from tests.workers.test_subscribers_gdpr import _delivery, _piece
from workers.bounces import COMPLAINT, HARD, SOFT, NotAReport, parse_report, record_report
from workers.campaign_report import campaign_report
from workers.subscriber_models import BounceRecord, Subscriber
from workers.subscribers import confirm, is_suppressed, sign_up, unsubscribe

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DATA = ROOT / "tests" / "data" / "bounces"
BOUNCED = "heinz.ausgeschieden@stahlwerk-uerdingen.example.org"
COMPLAINED = "jana.beschwerde@chemiepark-marl.example.org"
FULL = "petra.voll@metallbau-koblenz.example.org"


def _read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_a_hard_bounce_is_parsed_with_status_and_original_message_id() -> None:
    [entry] = parse_report(_read("hard-bounce-user-unknown.eml"))

    assert (entry.kind, entry.address, entry.status) == (HARD, BOUNCED, "5.1.1")
    assert entry.original_message_id == "<6f1c0a9e2b7d4c3f8a5e1d2c3b4a5968@krefeld.example.org>"
    assert entry.diagnostic is not None and "User unknown" in entry.diagnostic


def test_a_delayed_4xx_report_is_soft_and_an_abuse_report_is_a_complaint() -> None:
    [soft] = parse_report(_read("soft-bounce-mailbox-full.eml"))
    [complaint] = parse_report(_read("complaint-arf-abuse.eml"))

    assert (soft.kind, soft.address, soft.status) == (SOFT, FULL, "4.2.2")
    assert (complaint.kind, complaint.address) == (COMPLAINT, COMPLAINED)


def test_an_ordinary_mail_is_not_a_report() -> None:
    with pytest.raises(NotAReport, match="text/plain"):
        parse_report(_read("not-a-report.eml"))


def test_hard_bounces_and_complaints_suppress_soft_bounces_do_not(database_url: str) -> None:
    reports = ("hard-bounce-user-unknown.eml", "soft-bounce-mailbox-full.eml",
               "complaint-arf-abuse.eml")  # fmt: skip
    with session_scope(database_url) as session:
        for name in reports:
            record_report(session, parse_report(_read(name)), now=NOW)
    with session_scope(database_url) as session:
        assert is_suppressed(session, BOUNCED)
        assert is_suppressed(session, COMPLAINED.upper())
        assert not is_suppressed(session, FULL)
        # Reading the same reports again records nothing twice.
        outcomes = record_report(session, parse_report(_read(reports[0])), now=NOW)
        assert [(o.recorded, o.suppressed) for o in outcomes] == [(False, False)]
        assert session.scalar(select(func.count()).select_from(BounceRecord)) == 2


def test_bounces_command_reads_a_folder_and_an_mbox(database_url: str, tmp_path: Path) -> None:
    box = mailbox.mbox(tmp_path / "bounces.mbox")
    box.add(_read("complaint-arf-abuse.eml"))
    box.flush()
    env = depesche_env(database_url=database_url)

    folder = subprocess.run(
        depesche_command("bounces", str(DATA), "--workspace", str(tmp_path)),
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    mbox = subprocess.run(
        depesche_command("bounces", str(tmp_path / "bounces.mbox"), "--workspace", str(tmp_path)),
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert folder.returncode == 0, folder.stderr
    assert "1 hard bounces, 1 complaints, 1 temporary (ignored); 2 addresses newly suppressed" in (
        " ".join(folder.stdout.split())
    )
    assert "not-a-report.eml: skipped" in folder.stderr
    assert mbox.returncode == 0, mbox.stderr
    assert "0 addresses newly suppressed" in " ".join(mbox.stdout.split())
    with session_scope(database_url) as session:
        assert is_suppressed(session, BOUNCED) and is_suppressed(session, COMPLAINED)


def test_report_counts_sent_bounced_unsubscribed_and_failed_per_initiative(
    database_url: str,
) -> None:
    with session_scope(database_url) as session:
        piece = _piece(session, "kw48-krefeld")
        other = _piece(session, "kw48-frankfurt")
        other.initiative = "frankfurt"
        elsewhere = _piece(session, "andere-kampagne", campaign="woche-der-industrie")
        subscriber = sign_up(
            session, initiative="krefeld", address="leaver@example.org", name=None,
            audience=None, source="web", ip=None, consent_version=None,
            now=NOW - timedelta(days=30),
        )  # fmt: skip
        confirm(session, subscriber.id, None, ip=None, now=NOW - timedelta(days=30))
        bounced_id = "<6f1c0a9e2b7d4c3f8a5e1d2c3b4a5968@krefeld.example.org>"
        yesterday = NOW - timedelta(days=1)
        sent = [
            (piece, BOUNCED, "subscriber:900", bounced_id, "sent"),
            (
                piece,
                "leaver@example.org",
                f"subscriber:{subscriber.id}",
                "<2@k.example.org>",
                "sent",
            ),
            (piece, "ok@example.org", "subscriber:901", "<3@k.example.org>", "sent"),
            (piece, "gone@example.org", "subscriber:902", None, "failed"),
            (other, "ffm@example.org", "subscriber:903", "<4@f.example.org>", "sent"),
            (elsewhere, "x@example.org", "subscriber:904", "<5@k.example.org>", "sent"),
        ]
        for where, target, ref, message_id, status in sent:
            _delivery(session, where, target, ref, external_id=message_id, status=status,
                      created_at=yesterday)  # fmt: skip
        record_report(session, parse_report(_read("hard-bounce-user-unknown.eml")), now=NOW)
        unsubscribe(session, subscriber.id, "krefeld", now=NOW)
        session.flush()
        assert session.get(Subscriber, subscriber.id) is not None

    with session_scope(database_url) as session:
        rows = {
            row.initiative: row.as_dict() for row in campaign_report(session, "wochenrueckblick")
        }

    assert set(rows) == {"frankfurt", "krefeld"}
    krefeld = rows["krefeld"]
    assert (krefeld["sent"], krefeld["bounced"], krefeld["unsubscribed"], krefeld["failed"]) == (
        3, 1, 1, 1,
    )  # fmt: skip
    assert (rows["frankfurt"]["sent"], rows["frankfurt"]["bounced"]) == (1, 0)


def test_a_maildir_of_reports_is_read(tmp_path: Path) -> None:
    from workers.bounces import read_messages

    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(_read("hard-bounce-user-unknown.eml"))
    box.add(_read("complaint-arf-abuse.eml"))

    kinds = sorted(
        entry.kind
        for _where, data in read_messages(tmp_path / "Maildir")
        for entry in parse_report(data)
    )

    assert kinds == [COMPLAINT, HARD]
