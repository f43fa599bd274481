"""RSS, Atom and JSON Feed become the same entries; broken input fails loudly or is reported."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from content.feeds.parse import ParseError, RawEntry, parse

FEED_URL = "https://example.org/feed"


def test_rss_atom_and_json_feed_parse_into_the_same_entries(
    formats: Any, story: Callable[..., Any]
):
    stories = [story(1), story(2, published=None, tags=["Transformation", "Thüringen"])]
    expected = [
        RawEntry(
            guid=s["guid"],
            link=s["link"],
            title=s["title"],
            summary_html=s["summary"],
            published=s["published"],
            tags=s["tags"],
        )
        for s in stories
    ]

    results = {
        "rss": parse(formats.rss(*stories).encode(), url=FEED_URL, headers={}),
        "atom": parse(formats.atom(*stories).encode(), url=FEED_URL, headers={}),
        "json": parse(formats.json(*stories).encode(), url=FEED_URL, headers={}),
    }

    for name, parsed in results.items():
        assert parsed.title == "Nachrichten aus der Region", name
        assert parsed.entries == expected, name
        assert parsed.problem is None, name


def test_json_feed_is_recognised_by_content_type_and_version_1_0(story: Callable[..., Any]):
    document = {
        "version": "https://jsonfeed.org/version/1",
        "title": "Kammer-Nachrichten",
        "items": [
            {
                "id": 4711,
                "url": "/meldungen/4711",
                "title": "Ausbildungsmesse in Krefeld",
                "summary": "Über 80 Betriebe stellen sich vor & suchen Azubis.",
                "date_published": "2025-03-10T09:00:00+01:00",
            }
        ],
    }
    content = b"\n  " + json.dumps(document).encode()

    parsed = parse(content, url=FEED_URL, headers={"Content-Type": "application/feed+json"})

    (entry,) = parsed.entries
    assert entry.guid == "4711"
    assert entry.link == "https://example.org/meldungen/4711"
    assert entry.summary_html == "<p>Über 80 Betriebe stellen sich vor &amp; suchen Azubis.</p>"
    assert entry.published == datetime(2025, 3, 10, 8, 0, tzinfo=UTC)


def test_json_without_a_json_feed_version_is_a_parse_error():
    with pytest.raises(ParseError, match=FEED_URL):
        parse(b'{"title": "Kein Feed", "items": []}', url=FEED_URL, headers={})


def test_broken_feed_without_entries_is_a_parse_error():
    with pytest.raises(ParseError, match=FEED_URL):
        parse(
            b"<html><body><p>Wartungsarbeiten", url=FEED_URL, headers={"content-type": "text/html"}
        )


def test_html_page_is_not_a_feed():
    with pytest.raises(ParseError, match=r"not an RSS, Atom or JSON feed|not well-formed"):
        parse(b"<html><body><p>Hallo</p></body></html>", url=FEED_URL, headers={})


def test_empty_but_valid_feed_has_no_entries(formats: Any):
    parsed = parse(formats.rss().encode(), url=FEED_URL, headers={})

    assert parsed.entries == []
    assert parsed.problem is None


def test_feed_with_a_syntax_slip_is_read_and_the_problem_reported():
    content = (
        b'<rss version="2.0"><channel><title>Verb\xc3\xa4nde & Kammern</title>'
        b"<item><guid>https://example.org/a</guid><link>https://example.org/a</link>"
        b"<title>Tarifrunde: IG Metall & Arbeitgeber</title></item></channel></rss>"
    )

    parsed = parse(content, url=FEED_URL, headers={})

    assert [entry.title for entry in parsed.entries] == ["Tarifrunde: IG Metall & Arbeitgeber"]
    assert parsed.problem is not None and parsed.problem.startswith(FEED_URL)


def test_relative_links_are_resolved_against_the_feed_url():
    content = (
        b'<rss version="2.0"><channel><title>Region</title>'
        b"<item><guid isPermaLink='false'>id-1</guid><link>/meldungen/1</link>"
        b"<title>Wasserstoff im Mittelrhein</title></item></channel></rss>"
    )

    parsed = parse(content, url="https://example.org/region/feed.xml", headers={})

    assert parsed.entries[0].link == "https://example.org/meldungen/1"
    assert parsed.entries[0].guid == "id-1"


def test_entries_without_a_web_link_are_skipped_and_reported():
    content = (
        b'<rss version="2.0"><channel><title>Region</title>'
        b"<item><guid isPermaLink='false'>urn:x:1</guid><title>Ohne Link</title></item>"
        b"<item><link>https://example.org/mit-link</link><title>Mit Link</title></item>"
        b"</channel></rss>"
    )

    parsed = parse(content, url=FEED_URL, headers={})

    assert [entry.title for entry in parsed.entries] == ["Mit Link"]
    assert parsed.entries[0].guid is None
    assert parsed.problem is not None and "1 entry without an http(s) link" in parsed.problem


def test_content_naming_a_local_file_is_never_opened(tmp_path: Path, formats: Any, story: Any):
    secret = tmp_path / "geheim.xml"
    secret.write_text(formats.rss(story(1)), encoding="utf-8")

    with pytest.raises(ParseError):
        parse(str(secret).encode(), url=FEED_URL, headers={})
