"""RSS, Atom and JSON Feed become the same entries; broken input fails loudly or is reported."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from content.feeds.parse import ParseError, RawEntry, parse
from tests.content.feeds.servers import read_data

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
        assert [replace(entry, base="") for entry in parsed.entries] == expected, name
        assert parsed.problem is None, name
    # Relative links in summaries resolve against the feed (XML) or the item's URL (JSON Feed).
    assert {entry.base for entry in results["rss"].entries} == {FEED_URL}
    assert [entry.base for entry in results["json"].entries] == [s["link"] for s in stories]


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


# --- formats ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "published", "tags"),
    [
        ("rss-0.91.xml", None, []),
        ("rss-0.92.xml", None, ["Kampagne"]),
        ("rss-1.0.rdf", datetime(2025, 3, 10, 8, 0, tzinfo=UTC), ["Kampagne"]),
        ("rss-2.0.xml", datetime(2025, 3, 10, 8, 0, tzinfo=UTC), ["Kampagne"]),
        ("atom-1.0.xml", datetime(2025, 3, 10, 8, 0, tzinfo=UTC), ["Kampagne"]),
        ("jsonfeed-1.1.json", datetime(2025, 3, 10, 8, 0, tzinfo=UTC), ["Kampagne"]),
    ],
)
def test_every_format_gives_the_same_story(name: str, published: datetime | None, tags: list[str]):
    parsed = parse(read_data(name), url="https://buendnis.example.org/feed", headers={})

    assert parsed.title == "Bündnis Zukunft der Industrie"
    (entry,) = parsed.entries
    assert entry.link == "https://buendnis.example.org/kampagne"
    assert entry.title == "Kampagne startet"
    assert "Plakate, Betriebsbesuche und Aktionen." in entry.summary_html
    assert entry.published == published
    assert entry.tags == tags
    assert parsed.problem is None


def test_json_feed_1_1_fields_of_the_wrong_type_are_ignored():
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": ["kein", "Text"],
        "items": [
            {"id": 7, "url": 42, "external_url": "https://example.org/extern", "title": None},
            {"id": 8, "external_url": "https://example.org/extern", "content_text": "Nur Text"},
            {"id": {"x": 1}, "url": "https://example.org/a", "title": "A", "tags": "Kein"},
            "kein Objekt",
            {"id": "b", "url": "javascript:alert(1)", "title": "Böse"},
        ],
    }

    parsed = parse(json.dumps(document).encode(), url=FEED_URL, headers={})

    assert parsed.title is None
    assert [(e.guid, e.link, e.title, e.summary_html, e.tags) for e in parsed.entries] == [
        ("8", "https://example.org/extern", "", "<p>Nur Text</p>", []),
        (None, "https://example.org/a", "A", "", []),
    ]
    assert parsed.problem is not None and "3 entries" in parsed.problem


def test_deeply_nested_json_is_a_parse_error_not_a_crash():
    content = b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + b"[" * 100_000
    content += b"]" * 100_000 + b"}"

    with pytest.raises(ParseError, match=FEED_URL):
        parse(content, url=FEED_URL, headers={})


# --- hostile and broken input -------------------------------------------------------------------


def test_billion_laughs_never_expands():
    parsed = parse(read_data("billion-laughs.rss"), url=FEED_URL, headers={})

    (entry,) = parsed.entries
    assert "lollol" not in entry.title + entry.summary_html + (parsed.title or "")
    assert entry.title == "Ausbildungsmesse &lol9;"
    assert parsed.problem is not None and "entities not expanded" in parsed.problem


def test_external_entity_to_a_local_file_is_never_read():
    parsed = parse(read_data("xxe-local-file.rss"), url=FEED_URL, headers={})

    (entry,) = parsed.entries
    text = entry.title + entry.summary_html
    assert "root:" not in text and Path("/etc/hostname").read_text().strip() not in text
    assert entry.title == "Zugangsdaten: &passwd;"


def test_truncated_feed_keeps_the_complete_entries_and_says_why():
    parsed = parse(read_data("truncated.rss"), url=FEED_URL, headers={})

    assert [entry.title for entry in parsed.entries] == [
        "Tarifrunde Chemie: Einigung in Wiesbaden",
        "Betriebsratswahlen: Beteiligung gestiegen",
    ]
    assert parsed.problem is not None
    assert parsed.problem.startswith(f"{FEED_URL}: not well-formed, read what could be recovered")


UMLAUTS = "Grüße aus Thüringen – „Zukunft“ der Industrie"


@pytest.mark.parametrize(
    ("name", "content_type", "problem"),
    [
        ("windows-1252-declared-utf-8.rss", "", "declared as utf-8, but is windows-1252"),
        ("windows-1252-no-charset.rss", "application/xml", "no encoding declared, but is"),
        (
            "utf-8-declared-iso-8859-1.rss",
            "application/rss+xml; charset=ISO-8859-1",
            "declared as windows-1252, but is UTF-8",
        ),
        ("utf-16-with-bom.rss", "", None),
        ("jsonfeed-windows-1252.json", "application/feed+json", "but is windows-1252"),
    ],
)
def test_wrong_or_missing_encoding_labels_still_give_correct_umlauts(
    name: str, content_type: str, problem: str | None
):
    parsed = parse(read_data(name), url=FEED_URL, headers={"Content-Type": content_type})

    (entry,) = parsed.entries
    assert entry.title == UMLAUTS
    assert "Die Straße zur Übergabe: 5 € für jede Fördermaßnahme." in entry.summary_html
    if problem is None:
        assert parsed.problem is None
    else:
        assert parsed.problem is not None and problem in parsed.problem


def test_relative_links_resolve_against_xml_base():
    parsed = parse(read_data("xml-base.atom"), url=FEED_URL, headers={})

    first, second = parsed.entries
    assert first.link == "https://krefeld.example.org/aktuelles/2025/gruenderzentrum.html"
    assert first.base == "https://krefeld.example.org/aktuelles/2025/"
    assert second.link == "https://krefeld.example.org/aktuelles/hafen.html"
    assert second.base == "https://krefeld.example.org/aktuelles/"
