"""`depesche preview`: one piece rendered from the stored items, printed or opened, never stored."""

from __future__ import annotations

import re
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, inspect, select, table

from config.db import session_scope
from content.models import Item
from tests.services import ROOT, depesche_command, depesche_env


@pytest.fixture()
def stored(demo_run) -> tuple[Path, str]:
    """The demo's workspace and database: six weeks of items, their events, stored pieces.

    Shared with the other tests of the session, which is safe only because a preview writes
    nothing, and every test here checks exactly that.
    """
    return demo_run.workspace_root, demo_run.database_url


def row_counts(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return {
                name: connection.execute(select(func.count()).select_from(table(name))).scalar_one()
                for name in inspect(connection).get_table_names()
            }
    finally:
        engine.dispose()


def preview(
    workspace: Path, database_url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = depesche_env(database_url=database_url, out_dir=str(workspace / "preview-out"))
    environment["TMPDIR"] = str(workspace.parent / "preview-tmp")
    Path(environment["TMPDIR"]).mkdir(exist_ok=True)
    environment["COLUMNS"] = "200"
    environment.update(env or {})
    return subprocess.run(
        depesche_command("preview", *args[:2], str(workspace), *args[2:]),
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_press_release_preview_prints_markdown_and_stores_nothing(stored) -> None:
    workspace, url = stored
    before = row_counts(url)

    result = preview(
        workspace, url, "woche-der-industrie", "pressemitteilung", "--initiative", "krefeld"
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "# Industrieinitiative Krefeld eröffnet die Woche der Industrie" in result.stdout
    assert "Krefeld, 9. November 2026 – Die Industrieinitiative Krefeld" in result.stdout
    assert "press_release.pdf" in result.stdout and "press_release.docx" in result.stdout
    assert "nothing stored" in result.stdout
    assert row_counts(url) == before
    assert not (workspace / "preview-out").exists()


def test_digest_preview_at_an_instant_uses_the_stored_items(stored) -> None:
    workspace, url = stored
    before = row_counts(url)

    result = preview(
        workspace,
        url,
        "wochenrueckblick",
        "digest",
        "--initiative",
        "krefeld",
        "--at",
        "2026-11-09T08:00+01:00",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "digest-20261109T0700Z" in result.stdout
    assert re.search(r"^Quelle: .+, \d\d\.\d\d\.2026$", result.stdout, re.M)
    assert row_counts(url) == before


def test_social_preview_shows_each_platforms_count_against_its_limit(stored) -> None:
    workspace, url = stored
    with session_scope(url) as session:
        items = session.scalars(
            select(Item)
            .where(Item.title.contains("Woche der Industrie"))
            .order_by(Item.published_at.desc())
        )
        # An item of Krefeld's own or a national one: the social trigger posts what concerns it.
        item = next(i for i in items if {"krefeld", "national"} & set(i.tags))
        at = (item.published_at + timedelta(minutes=5)).isoformat()
    before = row_counts(url)

    result = preview(
        workspace, url, "woche-der-industrie", "social", "--initiative", "krefeld", "--at", at
    )

    assert result.returncode == 0, result.stdout + result.stderr
    limits = {"mastodon": 500, "bluesky": 300, "linkedin": 3000, "x": 280}
    for platform, limit in limits.items():
        row = re.search(rf"│ {platform}\s+│\s+(\d+)\s+│\s+(\d+)\s+│\s+fits", result.stdout)
        assert row, (platform, result.stdout)
        assert 0 < int(row[1]) <= int(row[2]) and int(row[2]) <= limit
    assert "social-item-" in result.stdout
    assert row_counts(url) == before


def test_open_writes_html_to_a_temporary_file_and_hands_it_to_the_browser(
    stored, tmp_path: Path
) -> None:
    workspace, url = stored
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(browser.stat().st_mode | stat.S_IEXEC)

    result = preview(
        workspace,
        url,
        "woche-der-industrie",
        "pressemitteilung",
        "--initiative",
        "krefeld",
        "--open",
        env={"BROWSER": str(browser), "DISPLAY": ""},
    )

    assert result.returncode == 0, result.stdout + result.stderr
    (uri,) = opened.read_text().split()
    assert uri.startswith("file://") and uri.endswith("/press_release.html")
    page = Path(uri.removeprefix("file://"))
    assert (
        "<h1>Industrieinitiative Krefeld eröffnet die Woche der Industrie</h1>" in page.read_text()
    )
    assert (page.parent / "press_release.pdf").read_bytes().startswith(b"%PDF")


def test_unknown_names_exit_1_with_the_known_choices(stored) -> None:
    workspace, url = stored
    result = preview(
        workspace, url, "woche-der-industrie", "pressemitteilung", "--initiative", "saar"
    )
    assert result.returncode == 1
    assert "unknown initiative 'saar'" in result.stderr and "krefeld" in result.stderr
    result = preview(workspace, url, "woche-der-industrie", "pm", "--initiative", "krefeld")
    assert result.returncode == 1 and "pressemitteilung" in result.stderr


def test_preview_api_composes_the_slot_a_run_would_and_writes_no_row(stored) -> None:
    from campaigns.workspace import load_workspace
    from content.preview import preview as preview_pieces

    workspace, url = stored
    ws = load_workspace(workspace)
    before = row_counts(url)
    at = datetime(2026, 11, 9, 9, 0, tzinfo=UTC)
    result = preview_pieces(url, ws, "woche-der-industrie", "pressemitteilung", "krefeld", at)
    assert [p.kind for p in result.pieces] == ["press_release"]
    assert result.spec.folder == "pressemitteilung-20261109T0900Z"
    assert row_counts(url) == before
