"""``depesche subscribers|press|report`` end to end, with confirmation mails to aiosmtpd."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from config.cli import app
from config.settings import configure
from tests.mail_sink import MailSink

runner = CliRunner()
SECRET = "cli-test-secret-0123456789-abcdefghij"


@pytest.fixture(autouse=True)
def _reset_settings() -> Iterator[None]:
    yield
    configure(None)


def depesche(database_url: str, workspace: Path, sink: MailSink | None, *args: str) -> Result:
    env = {
        "DEPESCHE_DATABASE_URL": database_url,
        "DEPESCHE_WORKSPACE": str(workspace),
        "DEPESCHE_SECRET_KEY": SECRET,
        "DEPESCHE_PUBLIC_URL": "https://news.krefeld.example.org",
    }
    if sink is not None:
        env["DEPESCHE_SMTP_URL"] = sink.url
    return runner.invoke(app, list(args), env=env)


def test_import_names_bad_lines_sends_confirmations_and_lists(
    database_url: str, example_workspace: Path, mail_sink: MailSink, tmp_path: Path
) -> None:
    sheet = tmp_path / "verteiler.csv"
    sheet.write_text(
        "email,name,audience\n"
        "erika.beispiel@example.org,Erika Beispiel,betriebsraete\n"
        "nicht-gueltig,Niemand,betriebsraete\n"
        "max.muster@example.org,Max Muster,\n",
        encoding="utf-8",
    )

    result = depesche(
        database_url, example_workspace, mail_sink,
        "subscribers", "import", "krefeld", str(sheet), "--audience", "unternehmen",
    )  # fmt: skip

    assert result.exit_code == 1
    assert f"{sheet}:3: email: 'nicht-gueltig' is not a valid e-mail address" in result.output
    summary = " ".join(result.stdout.split())
    assert "2 added" in summary and "2 confirmation mails sent" in summary
    received = sorted(m.rcpt_tos[0] for m in mail_sink.received())
    assert received == ["erika.beispiel@example.org", "max.muster@example.org"]
    body = mail_sink.received()[0].message.get_body(("plain",))
    assert body is not None and "https://news.krefeld.example.org/c/" in body.get_content()

    listed = depesche(database_url, example_workspace, None, "subscribers", "list", "krefeld",
                      "--json")  # fmt: skip
    assert listed.exit_code == 0, listed.output
    records = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["address"], r["audience"], r["status"]) for r in records] == [
        ("erika.beispiel@example.org", "betriebsraete", "unconfirmed"),
        ("max.muster@example.org", "unternehmen", "unconfirmed"),
    ]

    # The same file again: nothing new, and no second confirmation mail so soon.
    again = depesche(database_url, example_workspace, mail_sink,
                     "subscribers", "import", "krefeld", str(sheet))  # fmt: skip
    assert "0 added, 2 already listed" in " ".join(again.stdout.split())
    assert len(mail_sink.received()) == 2


def test_export_erase_and_purge_commands(
    database_url: str, example_workspace: Path, mail_sink: MailSink, tmp_path: Path
) -> None:
    added = depesche(database_url, example_workspace, mail_sink,
                     "subscribers", "add", "krefeld", "Erika.Beispiel@example.org",
                     "--name", "Erika Beispiel", "--audience", "kammern")  # fmt: skip
    assert added.exit_code == 0, added.output
    assert len(mail_sink.received()) == 1

    exported = depesche(database_url, example_workspace, None,
                        "subscribers", "export", "erika.beispiel@example.org")  # fmt: skip
    assert exported.exit_code == 0, exported.output
    data = json.loads(exported.stdout)
    assert data["subscriptions"][0]["consent"][0]["action"] == "signup"

    purged = depesche(database_url, example_workspace, None,
                      "subscribers", "purge", "--now", "2027-01-15T00:00+01:00")  # fmt: skip
    assert purged.exit_code == 0, purged.output
    assert "purged: 1 unconfirmed sign-ups" in " ".join(purged.output.split())

    depesche(database_url, example_workspace, mail_sink,
             "subscribers", "add", "krefeld", "erika.beispiel@example.org")  # fmt: skip
    erased = depesche(database_url, example_workspace, None,
                      "subscribers", "erase", "erika.beispiel@example.org")  # fmt: skip
    assert erased.exit_code == 0, erased.output
    assert "erased: 1 subscriptions" in " ".join(erased.output.split())
    after = depesche(database_url, example_workspace, None,
                     "subscribers", "export", "erika.beispiel@example.org")  # fmt: skip
    assert json.loads(after.stdout)["suppressed"]["reason"] == "erased"


def test_unknown_initiative_and_press_import(
    database_url: str, example_workspace: Path, tmp_path: Path
) -> None:
    sheet = tmp_path / "presse.csv"
    sheet.write_text(
        "name,outlet,beat,email\nJana Redlich,Rheinische Post,Wirtschaft,j.redlich@example.org\n",
        encoding="utf-8",
    )

    unknown = depesche(database_url, example_workspace, None,
                       "press", "import", "atlantis", str(sheet))  # fmt: skip
    imported = depesche(database_url, example_workspace, None,
                        "press", "import", "krefeld", str(sheet))  # fmt: skip
    listed = depesche(database_url, example_workspace, None, "press", "list", "krefeld", "--json")

    assert unknown.exit_code == 1 and "unknown initiative 'atlantis'" in unknown.output
    assert imported.exit_code == 0, imported.output
    assert json.loads(listed.stdout)["outlet"] == "Rheinische Post"
    report = depesche(database_url, example_workspace, None, "report", "wochenrueckblick")
    assert report.exit_code == 0 and "no deliveries recorded" in report.output
