"""Distributed mode: one beat entry per feed at its own interval, one Celery task per feed."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from campaigns.workspace import load_workspace
from config.db import session_scope
from config.settings import configure, load_settings
from content.models import FeedState, ItemSource
from workers.beat import beat_schedule


def test_every_feed_has_a_beat_entry_at_its_own_interval(example_workspace: Path):
    workspace = load_workspace(example_workspace)

    schedule = beat_schedule(workspace, load_settings(example_workspace))

    for feed in workspace.feeds.values():
        entry = schedule[f"feed:{feed.id}"]
        assert entry["task"] == "depesche.fetch_feed"
        assert entry["args"] == [feed.id]
        assert entry["schedule"] == feed.interval
    assert schedule["feed:bund"]["schedule"].total_seconds() == 30 * 60
    assert schedule["feed:netzwerk"]["schedule"].total_seconds() == 6 * 3600


def test_the_task_fetches_exactly_its_feed(example_workspace: Path, database_url: str):
    from workers.tasks import fetch_feed

    configure(load_settings(example_workspace, database_url=database_url))
    try:
        result = fetch_feed.run("krefeld")
        again = fetch_feed.run("krefeld")
        gone = fetch_feed.run("gibt-es-nicht")
    finally:
        configure(None)

    assert result["feed"] == "krefeld" and result["status"] == "ok" and result["new"] > 0
    assert again["status"] == "not_modified"
    assert gone["status"] == "error" and "gibt-es-nicht" in gone["error"]
    with session_scope(database_url) as session:
        assert list(session.scalars(select(FeedState.id))) == ["krefeld"]
        feeds = session.scalars(select(ItemSource.feed_id).group_by(ItemSource.feed_id))
        assert list(feeds) == ["krefeld"]
        assert session.scalar(select(func.count()).select_from(ItemSource)) == result["new"]
