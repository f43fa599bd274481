"""Hostile and broken feeds, served over loopback HTTP and run through the whole pipeline.

Each case is a small file under data/, named for what it is. What reaches the database must be
safe and correct, what was wrong must be recorded on the feed, and nothing may be fetched or
expanded on the feed's behalf.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from campaigns.schema import Feed, FetchSection
from config.db import session_scope
from content.ingest import ingest
from content.models import FeedState, Item
from tests.content.feeds.servers import FeedServer, read_data

UMLAUTS = "Grüße aus Thüringen – „Zukunft“ der Industrie"


def ingest_file(
    database_url: str,
    server: FeedServer,
    limits: FetchSection,
    name: str,
    now: datetime,
    tmp_path: Path,
    *,
    content_type: str = "application/rss+xml",
    body: bytes | None = None,
) -> tuple[Any, list[Item], FeedState]:
    url = server.serve(
        f"/{name}", read_data(name) if body is None else body, content_type=content_type
    )
    (outcome,) = ingest(
        database_url, [Feed(id="feind", url=url)], base_dir=tmp_path, now=now, fetch=limits
    )
    with session_scope(database_url) as session:
        items = list(session.scalars(select(Item).order_by(Item.published_at)))
        state = session.get(FeedState, "feind")
        assert state is not None
    return outcome, items, state


def test_billion_laughs_is_stored_unexpanded_with_the_reason(
    database_url: str, feed_server: FeedServer, limits: FetchSection, now: datetime, tmp_path: Path
):
    outcome, items, state = ingest_file(
        database_url, feed_server, limits, "billion-laughs.rss", now, tmp_path
    )

    assert outcome.status == "ok"
    (item,) = items
    assert item.title == "Ausbildungsmesse &lol9;"
    assert "lollol" not in item.title + item.summary_html + item.summary_text
    assert state.last_problem is not None and "entities not expanded" in state.last_problem


def test_external_entities_never_fetch_a_url(
    database_url: str, feed_server: FeedServer, limits: FetchSection, now: datetime, tmp_path: Path
):
    body = read_data("xxe-remote-url.rss").replace(b"PORT", str(feed_server.port).encode())
    for path in ("/xxe-external-dtd", "/xxe-parameter-entity", "/xxe-general-entity"):
        feed_server.serve(path, '<!ENTITY beacon "GEHEIM">')

    outcome, items, _ = ingest_file(
        database_url, feed_server, limits, "xxe-remote-url.rss", now, tmp_path, body=body
    )

    assert outcome.status == "ok"
    assert [request.path for request in feed_server.requests] == ["/xxe-remote-url.rss"]
    (item,) = items
    assert "GEHEIM" not in item.title + item.summary_text


def test_external_entities_never_read_a_file(
    database_url: str, feed_server: FeedServer, limits: FetchSection, now: datetime, tmp_path: Path
):
    _, items, _ = ingest_file(
        database_url, feed_server, limits, "xxe-local-file.rss", now, tmp_path
    )

    (item,) = items
    assert "root:" not in item.title + item.summary_text
    assert item.title == "Zugangsdaten: &passwd;"


def test_ill_formed_feed_keeps_what_is_recoverable_and_records_why(
    database_url: str, feed_server: FeedServer, limits: FetchSection, now: datetime, tmp_path: Path
):
    outcome, items, state = ingest_file(
        database_url, feed_server, limits, "truncated.rss", now, tmp_path
    )

    assert outcome.status == "ok" and len(outcome.new) == 2
    assert [item.title for item in items] == [
        "Tarifrunde Chemie: Einigung in Wiesbaden",
        "Betriebsratswahlen: Beteiligung gestiegen",
    ]
    assert outcome.problem == state.last_problem
    assert state.last_problem is not None and "not well-formed" in state.last_problem
    assert state.last_problem.startswith(f"{feed_server.url('/truncated.rss')}: ")


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("windows-1252-declared-utf-8.rss", "application/rss+xml; charset=utf-8"),
        ("windows-1252-no-charset.rss", "application/xml"),
        ("utf-8-declared-iso-8859-1.rss", "text/xml; charset=ISO-8859-1"),
        ("utf-16-with-bom.rss", "application/rss+xml"),
        ("jsonfeed-windows-1252.json", "application/feed+json"),
    ],
)
def test_wrong_declared_encodings_still_store_correct_umlauts(
    database_url: str,
    feed_server: FeedServer,
    limits: FetchSection,
    now: datetime,
    tmp_path: Path,
    name: str,
    content_type: str,
):
    _, items, _ = ingest_file(
        database_url, feed_server, limits, name, now, tmp_path, content_type=content_type
    )

    (item,) = items
    assert item.title == UMLAUTS
    assert item.summary_text == "Die Straße zur Übergabe: 5 € für jede Fördermaßnahme."


def test_markup_in_titles_is_stripped(
    database_url: str, feed_server: FeedServer, limits: FetchSection, now: datetime, tmp_path: Path
):
    _, items, _ = ingest_file(
        database_url, feed_server, limits, "markup-in-titles.atom", now, tmp_path
    )

    assert [item.title for item in items] == [
        "Praktikumsbörse gestartet",
        "Koblenz: neue Fachschule",
        "Neuwied: Werkstatt & Schule",
    ]


def test_relative_links_resolve_against_xml_base_or_the_feed_url(
    database_url: str, feed_server: FeedServer, limits: FetchSection, now: datetime, tmp_path: Path
):
    _, based, _ = ingest_file(database_url, feed_server, limits, "xml-base.atom", now, tmp_path)
    url = feed_server.serve("/relative-links.rss", read_data("relative-links.rss"))
    ingest(database_url, [Feed(id="ffm", url=url)], base_dir=tmp_path, now=now, fetch=limits)
    with session_scope(database_url) as session:
        (relative,) = session.scalars(select(Item).where(Item.title.like("Nachbarschaft%")))

    assert [item.canonical_url for item in based] == [
        "https://krefeld.example.org/aktuelles/2025/gruenderzentrum.html",
        "https://krefeld.example.org/aktuelles/hafen.html",
    ]
    assert 'href="https://krefeld.example.org/aktuelles/programm.html"' in based[0].summary_html
    assert 'href="https://krefeld.example.org/presse/mappe.pdf"' in based[0].summary_html
    assert 'href="https://krefeld.example.org/aktuelles/zahlen/2024.html"' in based[1].summary_html
    assert relative.canonical_url == feed_server.url("/meldungen/osthafen")
    assert f'href="{feed_server.url("/termine.html")}"' in relative.summary_html


def test_future_dates_are_clamped_to_the_fetch_time_and_noted(
    database_url: str, feed_server: FeedServer, limits: FetchSection, now: datetime, tmp_path: Path
):
    outcome, items, state = ingest_file(
        database_url, feed_server, limits, "future-dates.rss", now, tmp_path
    )

    assert sorted(item.published_at for item in items) == [
        now - timedelta(days=4, hours=1, minutes=30),
        now,
    ]
    assert outcome.problem == "1 entry dated in the future, set to the fetch time"
    assert state.last_problem == outcome.problem


def test_script_handlers_javascript_urls_and_iframes_never_survive(
    database_url: str, feed_server: FeedServer, limits: FetchSection, now: datetime, tmp_path: Path
):
    _, items, _ = ingest_file(
        database_url, feed_server, limits, "script-and-javascript-urls.rss", now, tmp_path
    )

    assert len(items) == 2
    for item in items:
        html = item.summary_html.lower()
        for forbidden in (
            "<script", "onclick", "onerror", "onload", "onmouseover", "javascript", "vbscript",
            "data:", "<iframe", "rahmen", "<svg", "<img", "alert", "&#",
        ):  # fmt: skip
            assert forbidden not in html, (forbidden, item.summary_html)
        assert html.count("<a ") == 7
        assert html.count("href=") == 1
        assert 'href="https://example.org/anmeldung"' in item.summary_html
        assert 'rel="noopener noreferrer"' in item.summary_html
        assert "target=" not in html
