"""Migration 0002 on a database that already holds items: each becomes a cluster of its own."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import text

from config.db import get_engine
from config.migrate import alembic_config, upgrade


def test_existing_items_become_their_own_clusters_and_feeds_get_health_columns(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'alt.db'}"
    command.upgrade(alembic_config(url), "0001")
    stamp = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
    with get_engine(url).begin() as connection:
        connection.execute(
            text(
                "INSERT INTO items (id, canonical_url, title, summary_html, summary_text, "
                "published_at, first_seen_at, content_hash, tags) VALUES "
                "('a1', 'https://example.org/1', 'T', '', '', :at, :at, 'h', '[]')"
            ),
            {"at": stamp},
        )
        connection.execute(
            text("INSERT INTO feeds (id, url, consecutive_failures) VALUES ('bund', 'x.xml', 2)")
        )

    upgrade(url)

    with get_engine(url).connect() as connection:
        assert connection.execute(text("SELECT id, cluster_id FROM items")).all() == [("a1", "a1")]
        row = connection.execute(
            text("SELECT consecutive_failures, paused_at, next_fetch_at, fetch_url FROM feeds")
        ).one()
        assert tuple(row) == (2, None, None, None)
    get_engine(url).dispose()
