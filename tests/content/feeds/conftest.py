"""Fixtures for the feed pipeline: a real HTTP server on loopback, a migrated database, feeds.

Feeds are built from small dicts of German sample stories; the servers and the fake DNS live in
:mod:`tests.content.feeds.servers`. Hostile and odd inputs are small files under ``data/``,
named for what they are.
"""

from __future__ import annotations

import html
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from campaigns.schema import FetchSection
from config.db import get_engine, session_scope
from config.migrate import upgrade
from config.models import Event
from content.models import Item, ItemSource
from tests.content.feeds.servers import LOOPBACK_ONLY, FeedServer, running_server
from tests.services import PostgresServer

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)

Story = dict[str, Any]


# --- HTTP server --------------------------------------------------------------------------------


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with running_server() as server:
        yield server


@pytest.fixture
def limits() -> FetchSection:
    """The workspace's [fetch] settings in tests: exactly 127.0.0.1/32 is allowed."""
    return FetchSection(
        timeout=5, total_timeout=20, max_bytes=200_000, allow_networks=LOOPBACK_ONLY
    )


# --- database -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _migrated_sqlite(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer | None
) -> Path | None:
    """A SQLite file migrated once per session; each test gets a copy (migrations take time)."""
    if postgres_server is not None:
        return None
    path = tmp_path_factory.mktemp("feeds-template") / "depesche.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    get_engine(url).dispose()  # checkpoints the WAL into the file
    return path


@pytest.fixture
def database_url(
    tmp_path: Path, postgres_server: PostgresServer | None, _migrated_sqlite: Path | None
) -> Iterator[str]:
    """A fresh database at the newest schema, like tests/conftest.py's, but copied, not migrated:
    on SQLite from a file migrated once per session, on PostgreSQL from its template."""
    if postgres_server is not None:
        url = postgres_server.create_database()
        yield url
        postgres_server.drop_database(url)
        return
    assert _migrated_sqlite is not None
    path = tmp_path / "depesche.db"
    shutil.copyfile(_migrated_sqlite, path)
    url = f"sqlite:///{path}"
    yield url
    get_engine(url).dispose()


@pytest.fixture
def count_rows(database_url: str) -> Callable[[], dict[str, int]]:
    """Rows in the tables ingest writes, to show a repeat changed nothing."""

    def count() -> dict[str, int]:
        with session_scope(database_url) as session:
            return {
                name: session.scalar(select(func.count()).select_from(model)) or 0
                for name, model in (("items", Item), ("sources", ItemSource), ("events", Event))
            }

    return count


@pytest.fixture
def now() -> datetime:
    return NOW


# --- feeds --------------------------------------------------------------------------------------


@pytest.fixture
def story() -> Callable[..., Story]:
    """A German sample story; ``number`` varies guid, link and title, keywords override."""

    def make(number: int = 1, **overrides: Any) -> Story:
        data: Story = {
            "guid": f"https://example.org/meldungen/{number}",
            "link": f"https://example.org/meldungen/{number}",
            "title": f"Industriedialog Thüringen: Fachkräfte sichern ({number})",
            "summary": (
                "<p>Betriebsräte, Kammern und Unternehmen beraten über "
                f"Weiterbildung und Transformation ({number}).</p>"
            ),
            "published": datetime(2025, 3, 10, 8, 0, tzinfo=UTC),
            "tags": ["Fachkräfte"],
        }
        data.update(overrides)
        return data

    return make


def _rfc822(moment: datetime | None) -> str:
    return f"<pubDate>{format_datetime(moment, usegmt=True)}</pubDate>" if moment else ""


def rss(*stories: Story, title: str = "Nachrichten aus der Region") -> str:
    items = "".join(
        "<item>"
        f"<guid>{html.escape(s['guid'])}</guid>"
        f"<link>{html.escape(s['link'])}</link>"
        f"<title>{html.escape(s['title'])}</title>"
        f"<description>{html.escape(s['summary'])}</description>"
        f"{_rfc822(s['published'])}"
        + "".join(f"<category>{html.escape(tag)}</category>" for tag in s["tags"])
        + "</item>"
        for s in stories
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<rss version="2.0"><channel><title>{html.escape(title)}</title>'
        f"<link>https://example.org/</link><description>Meldungen</description>{items}"
        "</channel></rss>"
    )


def atom(*stories: Story, title: str = "Nachrichten aus der Region") -> str:
    entries = "".join(
        "<entry>"
        f"<id>{html.escape(s['guid'])}</id>"
        f'<link rel="alternate" href="{html.escape(s["link"])}"/>'
        f"<title>{html.escape(s['title'])}</title>"
        f'<summary type="html">{html.escape(s["summary"])}</summary>'
        + (f"<published>{s['published'].isoformat()}</published>" if s["published"] else "")
        + "".join(f'<category term="{html.escape(tag)}"/>' for tag in s["tags"])
        + "</entry>"
        for s in stories
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<feed xmlns="http://www.w3.org/2005/Atom"><title>{html.escape(title)}</title>'
        "<id>https://example.org/</id><updated>2025-03-10T08:00:00Z</updated>"
        f"{entries}</feed>"
    )


def json_feed(*stories: Story, title: str = "Nachrichten aus der Region") -> str:
    items = []
    for s in stories:
        item: dict[str, Any] = {
            "id": s["guid"],
            "url": s["link"],
            "title": s["title"],
            "content_html": s["summary"],
            "tags": s["tags"],
        }
        if s["published"]:
            item["date_published"] = s["published"].isoformat()
        items.append(item)
    return json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": title,
            "home_page_url": "https://example.org/",
            "items": items,
        },
        ensure_ascii=False,
    )


@dataclass(frozen=True)
class FeedFormats:
    """Builders for feed documents, handed to tests as one fixture."""

    rss: Callable[..., str] = rss
    atom: Callable[..., str] = atom
    json: Callable[..., str] = json_feed


@pytest.fixture
def formats() -> FeedFormats:
    return FeedFormats()
