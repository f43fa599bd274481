"""Fixtures for the feed pipeline: a real HTTP server on loopback, a migrated database, feeds.

Feeds are built from small dicts of German sample stories; the server serves whatever a test
puts on a path and answers conditional GETs the way a well-behaved feed host does.
"""

from __future__ import annotations

import html
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from config.db import get_engine, session_scope
from config.migrate import upgrade
from config.models import Event
from content.models import Item, ItemSource

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)

Story = dict[str, Any]


# --- HTTP server --------------------------------------------------------------------------------


@dataclass
class Route:
    body: bytes
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    send_length: bool = True
    delay: float = 0.0


@dataclass
class Request:
    path: str
    headers: dict[str, str]


class FeedServer:
    """What the server serves (``routes``) and what it was asked (``requests``)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self.base_url = ""

    def serve(self, path: str, body: bytes | str, **options: Any) -> str:
        """Put ``body`` on ``path`` and return its URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = Route(body=data, **options)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def requests_for(self, path: str) -> list[Request]:
        return [request for request in self.requests if request.path == path]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        state = self.server.state
        state.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}))
        route = state.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        if route.delay:
            time.sleep(route.delay)
        validators = {}
        if route.etag:
            validators["ETag"] = route.etag
        if route.last_modified:
            validators["Last-Modified"] = route.last_modified
        if (route.etag and self.headers.get("If-None-Match") == route.etag) or (
            route.last_modified and self.headers.get("If-Modified-Since") == route.last_modified
        ):
            self.send_response(304)
            for name, value in validators.items():
                self.send_header(name, value)
            self.end_headers()
            return
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        for name, value in {**validators, **route.headers}.items():
            self.send_header(name, value)
        if route.send_length:
            self.send_header("Content-Length", str(len(route.body)))
        self.end_headers()
        self.wfile.write(route.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: FeedServer


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.state = FeedServer()
    host, port = httpd.server_address[:2]
    httpd.state.base_url = f"http://{host!s}:{port}"
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="feed-server", daemon=True
    )
    thread.start()
    try:
        yield httpd.state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# --- database -----------------------------------------------------------------------------------


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'depesche.sqlite'}"
    upgrade(url)
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
