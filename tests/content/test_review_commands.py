"""``depesche review list|show|approve|reject|comment`` and ``pause|resume|cancel`` end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from campaigns.workspace import load_workspace
from config.cli import app
from config.db import session_scope
from config.settings import configure
from content.models import Piece
from tests.content.review_pieces import AFTER, BEFORE, make_piece

runner = CliRunner()


@pytest.fixture()
def pieces(database_url: str, example_workspace: Path) -> Iterator[dict[str, int]]:
    """A two-level press release (draft) for Krefeld, an auto kickoff (approved) for Thüringen."""
    workspace = load_workspace(example_workspace)
    with session_scope(database_url) as session:
        press = make_piece(session, workspace)
        kickoff = make_piece(
            session, workspace, deliverable="kickoff", kind="newsletter", initiative="thueringen"
        )
        ids = {"press": press.id, "kickoff": kickoff.id}
    yield ids
    configure(None)


def depesche(
    database_url: str, workspace: Path, *args: str, now: str = AFTER.isoformat()
) -> Result:
    env = {"DEPESCHE_DATABASE_URL": database_url, "DEPESCHE_WORKSPACE": str(workspace)}
    return runner.invoke(app, [*args, "--now", now], env=env)


def _state(database_url: str, piece_id: int) -> str:
    with session_scope(database_url) as session:
        piece = session.get(Piece, piece_id)
        assert piece is not None
        return piece.state


def test_list_filters_and_prints_json_lines(
    database_url: str, example_workspace: Path, pieces: dict[str, int]
) -> None:
    result = depesche(database_url, example_workspace, "review", "list", "--json")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["id"], r["state"], r["waiting_for"]) for r in records] == [
        (pieces["press"], "draft", "network"),
        (pieces["kickoff"], "approved", None),
    ]
    assert records[0]["hold"] == "not approved: waits for level network"
    assert records[0]["embargo_until"] == "2026-11-09T09:00:00+00:00"
    only = depesche(database_url, example_workspace, "review", "list", "--json", "--state", "draft")
    assert [json.loads(line)["id"] for line in only.stdout.splitlines()] == [pieces["press"]]
    krefeld = depesche(
        database_url, example_workspace, "review", "list", "--json", "--initiative", "thueringen"
    )
    assert [json.loads(line)["id"] for line in krefeld.stdout.splitlines()] == [pieces["kickoff"]]
    bad = depesche(database_url, example_workspace, "review", "list", "--state", "sent")
    assert bad.exit_code == 1
    assert "--state: unknown state 'sent'" in bad.stderr


def test_approve_both_levels_then_show_the_history(
    database_url: str, example_workspace: Path, pieces: dict[str, int]
) -> None:
    press = str(pieces["press"])
    early = depesche(
        database_url, example_workspace, "review", "approve", press, "--level", "initiative",
        "--by", "Lena Hägele",
    )  # fmt: skip
    assert early.exit_code == 1
    assert early.stderr.strip().endswith(
        "level initiative approves after network, which has not approved yet"
    )
    first = depesche(
        database_url, example_workspace, "review", "approve", press, "--by", "Dr. Judith Rehberg",
        now=BEFORE.isoformat(),
    )  # fmt: skip
    assert first.exit_code == 0, first.output
    assert "draft, waits for level initiative" in first.stdout
    second = depesche(
        database_url, example_workspace, "review", "approve", press, "--level", "initiative",
        "--by", "Lena Hägele", "--note", "passt",
    )  # fmt: skip
    assert second.exit_code == 0, second.output
    assert _state(database_url, pieces["press"]) == "approved"
    comment = depesche(
        database_url, example_workspace, "review", "comment", press, "Zitat ist freigegeben",
        "--by", "Lena Hägele",
    )  # fmt: skip
    assert comment.exit_code == 0, comment.output
    show = depesche(database_url, example_workspace, "review", "show", press)
    assert show.exit_code == 0, show.output
    text = show.stdout
    assert "state: approved" in text
    assert "draft -> approved  by Lena Hägele (passt)" in text
    assert "level network approved by Dr. Judith Rehberg" in text
    assert "Lena Hägele: Zitat ist freigegeben" in text
    assert "press_release.md  text/markdown" in text
    assert "hold: none: may be delivered now" in text
    held = depesche(
        database_url, example_workspace, "review", "show", press, now=BEFORE.isoformat()
    )
    assert "hold: embargo until 09.11.2026 10:00 Europe/Berlin" in held.stdout


def test_reject_then_approve_is_a_one_line_error(
    database_url: str, example_workspace: Path, pieces: dict[str, int]
) -> None:
    press = str(pieces["press"])
    missing = depesche(database_url, example_workspace, "review", "reject", press, "--by", "J")
    assert missing.exit_code != 0  # --reason is required
    rejected = depesche(
        database_url, example_workspace, "review", "reject", press, "--by", "J",
        "--reason", "Zahlen veraltet",
    )  # fmt: skip
    assert rejected.exit_code == 0, rejected.output
    again = depesche(database_url, example_workspace, "review", "approve", press, "--by", "J")
    assert again.exit_code == 1
    lines = again.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "cannot go from rejected to approved" in lines[0]
    unknown = depesche(database_url, example_workspace, "review", "show", "9999")
    assert unknown.exit_code == 1
    assert unknown.stderr.strip() == ("no piece with id or key '9999' (see `depesche review list`)")


def test_pause_resume_cancel_commands(
    database_url: str, example_workspace: Path, pieces: dict[str, int]
) -> None:
    kickoff = pieces["kickoff"]

    def hold() -> str | None:
        listed = depesche(database_url, example_workspace, "review", "list", "--json")
        records = {r["id"]: r for r in map(json.loads, listed.stdout.splitlines())}
        return records[kickoff]["hold"]  # type: ignore[no-any-return]

    assert hold() is None
    paused = depesche(database_url, example_workspace, "pause", "woche-der-industrie", "--by", "J")
    assert paused.exit_code == 0, paused.output
    assert "campaign woche-der-industrie: paused" in paused.stdout
    assert hold() == "campaign woche-der-industrie paused by J"
    resumed = depesche(database_url, example_workspace, "resume", "woche-der-industrie")
    assert resumed.exit_code == 0, resumed.output
    assert hold() is None
    cancelled = depesche(database_url, example_workspace, "cancel", "woche-der-industrie")
    assert cancelled.exit_code == 0, cancelled.output
    assert hold() is not None and "cancelled" in str(hold())
    refused = depesche(database_url, example_workspace, "resume", "woche-der-industrie")
    assert refused.exit_code == 1
    assert "is cancelled; it cannot be resumed" in refused.stderr
    unknown = depesche(database_url, example_workspace, "pause", "wochenrueckblik")
    assert unknown.exit_code == 1
    assert "'wochenrueckblik' is not in the workspace" in unknown.stderr
