"""`depesche feeds` as a person calls it: a real subprocess against a loopback feed server."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from campaigns.workspace import load_workspace
from config.db import session_scope
from config.settings import configure
from content.commands import feeds_app
from content.feeds.normalise import normalise
from content.feeds.parse import RawEntry
from content.feeds.store import store
from content.ingest import ingest
from content.models import FeedState
from tests.content.feeds.servers import FeedServer
from tests.services import ROOT, depesche_command, depesche_env

FETCH_SECTION = '\n[fetch]\nallow_networks = ["127.0.0.1/32"]\npause_after = 1\ntimeout = 5\n'


def depesche(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = depesche_env(database_url=database_url)
    env["COLUMNS"] = "250"  # Rich tables fit an 80-column pipe by shortening cells
    return subprocess.run(
        depesche_command(*args), env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def workspace_with(example_workspace: Path, feeds: dict[str, str]) -> Path:
    """The example, allowed to fetch from 127.0.0.1, with ``feeds`` (id: URL) added."""
    with (example_workspace / "depesche.toml").open("a", encoding="utf-8") as handle:
        handle.write(FETCH_SECTION)
    with (example_workspace / "feeds.yaml").open("a", encoding="utf-8") as handle:
        for feed_id, url in feeds.items():
            handle.write(f"  - id: {feed_id}\n    url: {url}\n    interval: 1h\n")
    return example_workspace


def test_feeds_shows_health_and_resume_lifts_a_pause(
    example_workspace: Path, database_url: str, feed_server: FeedServer, formats: Any, story: Any
):
    broken = feed_server.serve("/kaputt.xml", "Wartung", status=503)
    root = workspace_with(example_workspace, {"kaputt": broken})
    ws = load_workspace(root)
    now = ws.config.demo.ingest_at if ws.config.demo else None
    assert now is not None
    ingest(database_url, list(ws.feeds.values()), base_dir=root, now=now, fetch=ws.config.fetch)

    table = depesche("feeds", "--workspace", str(root), database_url=database_url)
    resumed = depesche("feeds", "resume", "kaputt", "-w", str(root), database_url=database_url)

    assert table.returncode == 0, table.stdout + table.stderr
    lines = table.stdout.splitlines()
    assert "Feeds (Europe/Berlin)" in table.stdout
    row = next(line for line in lines if "kaputt" in line)
    assert "paused" in row and "HTTP 503" in row and f"{broken}" in row
    assert all(any(feed in line for line in lines) for feed in ws.feeds)
    assert next(line for line in lines if "│ bund" in line).count("ok") >= 1
    assert resumed.returncode == 0 and "kaputt: resumed" in resumed.stdout
    with session_scope(database_url) as session:
        state = session.get(FeedState, "kaputt")
        assert state is not None and (state.paused_at, state.consecutive_failures) == (None, 0)
    again = ingest(
        database_url,
        [ws.feeds["kaputt"]],
        base_dir=root,
        now=now + timedelta(minutes=1),
        fetch=ws.config.fetch,
    )
    assert again[0].status == "error"  # fetched again at once, not skipped


def test_feeds_check_diagnoses_one_url_and_stores_nothing(
    example_workspace: Path, feed_server: FeedServer, formats: Any, story: Any
):
    url = feed_server.serve(
        "/neu.xml", formats.rss(story(1), story(2), title="Neue Quelle"), etag='"v1"'
    )
    root = workspace_with(example_workspace, {})

    result = CliRunner().invoke(feeds_app, ["check", url, "-w", str(root)])

    assert result.exit_code == 0, result.output
    assert "title: Neue Quelle" in result.output
    assert "entries: 2" in result.output
    assert 'etag: "v1"' in result.output
    assert "published (UTC)" in result.output and "Industriedialog" in result.output
    assert not (root / "var").exists()  # no database was even opened


def test_feeds_check_names_what_is_wrong(example_workspace: Path):
    root = workspace_with(example_workspace, {})
    metadata = "http://169.254.169.254/latest/meta-data/"

    result = CliRunner().invoke(feeds_app, ["check", metadata, "-w", str(root)])

    assert result.exit_code == 1
    assert f"error: {metadata}: refused" in result.output
    assert "cloud metadata service" in result.output


def test_feeds_clusters_lists_every_source_of_a_story(
    example_workspace: Path, database_url: str, now: datetime
):
    story = {
        "title": "Thüringen fördert Wasserstoffnetz mit 20 Millionen Euro",
        "summary_html": "<p>Das Land unterstützt den Aufbau eines Wasserstoffnetzes zwischen "
        "Erfurt und Jena mit 20 Millionen Euro. Minister Tiefensee übergab die Bescheide.</p>",
    }
    copy = {
        "title": "20 Millionen Euro für Wasserstoff-Leitungen zwischen Erfurt und Jena",
        "summary_html": "<p>Minister Tiefensee übergab Bescheide über 20 Millionen Euro für ein "
        "Wasserstoffnetz zwischen Erfurt und Jena an das Land unterstützte Stadtwerke.</p>",
    }
    with session_scope(database_url) as session:
        for feed_id, link, text in (
            ("th", "https://th.example.org/h2", story),
            ("mdr", "https://mdr.example.org/wasserstoff", copy),
        ):
            entry = RawEntry(guid=link, link=link, published=now, **text)
            store(session, feed_id, [normalise(entry, feed_id=feed_id, feed_tags=[], now=now)], now)

    result = CliRunner(env={"DEPESCHE_DATABASE_URL": database_url, "COLUMNS": "200"}).invoke(
        feeds_app, ["clusters", "-w", str(example_workspace)]
    )
    configure(None)

    assert result.exit_code == 0, result.output
    assert "th, mdr" in result.output
    assert "https://th.example.org/h2" in result.output
    assert "https://mdr.example.org/wasserstoff" in result.output
