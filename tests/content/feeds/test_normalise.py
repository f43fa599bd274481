"""Canonical URLs, clean titles, bounded summaries and dates: pure functions, no I/O."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from content.feeds.normalise import (
    SUMMARY_HTML_MAX_CHARS,
    TITLE_MAX_CHARS,
    canonical_url,
    normalise,
)
from content.feeds.parse import RawEntry


def raw(**overrides: Any) -> RawEntry:
    values: dict[str, Any] = {
        "guid": "https://example.org/meldungen/1",
        "link": "https://example.org/meldungen/1",
        "title": "Industriedialog Baden-Württemberg startet",
        "summary_html": "<p>Gewerkschaften und Verbände an einem Tisch.</p>",
        "published": datetime(2025, 3, 10, 9, 0, tzinfo=timezone(timedelta(hours=1))),
        "tags": [],
    }
    values.update(overrides)
    return RawEntry(**values)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "HTTPS://Example.ORG:443/Meldungen/1?utm_source=newsletter&id=42&UTM_Medium=x#kommentare",
            "https://example.org/Meldungen/1?id=42",
        ),
        ("http://example.org:80", "http://example.org/"),
        ("https://example.org:8443/a", "https://example.org:8443/a"),
        (
            "https://example.org/a?b=2&fbclid=x&a=1&gclid=y&mc_cid=1&mc_eid=2&_hsenc=3&_hsmi=4&yclid=5",
            "https://example.org/a?b=2&a=1",
        ),
        (
            "https://example.org/a?q=Stra%C3%9Fe+Nord&utm_campaign=x",
            "https://example.org/a?q=Stra%C3%9Fe+Nord",
        ),
        ("https://example.org/a?utm_source=x", "https://example.org/a"),
        ("https://example.org/a?flag&utm_term=y", "https://example.org/a?flag"),
        ("http://[::1]:80/x", "http://[::1]/x"),
    ],
)
def test_canonical_url(url: str, expected: str):
    assert canonical_url(url) == expected


def test_normalised_item_is_keyed_by_its_canonical_url(now: datetime):
    item = normalise(
        raw(link="https://EXAMPLE.org/meldungen/1?utm_source=rss"),
        feed_id="bw",
        feed_tags=[],
        now=now,
    )

    assert item.canonical_url == "https://example.org/meldungen/1"
    assert item.item_id == hashlib.sha256(b"https://example.org/meldungen/1").hexdigest()[:24]
    assert item.link == "https://EXAMPLE.org/meldungen/1?utm_source=rss"
    assert item.published == datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
    assert item.published.tzinfo == UTC


def test_entry_without_date_is_published_now(now: datetime):
    item = normalise(raw(published=None), feed_id="bw", feed_tags=[], now=now)

    assert item.published == now


def test_date_in_the_future_is_clamped_to_now(now: datetime):
    item = normalise(raw(published=now + timedelta(days=2)), feed_id="bw", feed_tags=[], now=now)

    assert item.published == now


def test_naive_now_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        normalise(raw(), feed_id="bw", feed_tags=[], now=datetime(2025, 3, 14, 9, 30))


def test_title_is_plain_text_on_one_line(now: datetime):
    item = normalise(
        raw(title="  <b>Tarifrunde</b>:\n IG&nbsp;Metall &amp; Arbeitgeber  "),
        feed_id="bw",
        feed_tags=[],
        now=now,
    )

    assert item.title == "Tarifrunde: IG\xa0Metall & Arbeitgeber"


def test_long_title_is_cut_at_a_word_with_an_ellipsis(now: datetime):
    item = normalise(raw(title="Transformation " * 40), feed_id="bw", feed_tags=[], now=now)

    assert len(item.title) <= TITLE_MAX_CHARS
    assert item.title.endswith("Transformation…")


def test_missing_title_falls_back_to_the_summary(now: datetime):
    item = normalise(raw(title=""), feed_id="bw", feed_tags=[], now=now)

    assert item.title == "Gewerkschaften und Verbände an einem Tisch."


def test_summary_is_sanitised_and_has_a_text_form(now: datetime):
    item = normalise(
        raw(summary_html='<p onclick="x()">Mehr <a href="/termine">Termine</a></p><p>Zweiter</p>'),
        feed_id="bw",
        feed_tags=[],
        now=now,
    )

    assert item.summary_html == (
        '<p>Mehr <a href="https://example.org/termine" rel="noopener noreferrer">Termine</a></p>'
        "<p>Zweiter</p>"
    )
    assert item.summary_text == "Mehr Termine\n\nZweiter"


def test_long_summary_is_bounded_and_stays_well_formed(now: datetime):
    paragraph = "<p>Die <strong>Industrie</strong> in Nord-Westfalen &amp; Krefeld wächst.</p>"
    item = normalise(raw(summary_html=paragraph * 500), feed_id="bw", feed_tags=[], now=now)

    assert len(item.summary_html) <= SUMMARY_HTML_MAX_CHARS + 50
    assert item.summary_html.endswith("</p>")
    assert item.summary_html.count("<p>") == item.summary_html.count("</p>")
    assert "…" in item.summary_text


def test_tags_are_the_feeds_then_the_entrys_without_repeats(now: datetime):
    item = normalise(
        raw(tags=["wasserstoff", " Chempark ", "Thüringen"]),
        feed_id="th",
        feed_tags=["Thüringen", "Wasserstoff"],
        now=now,
    )

    assert item.tags == ["Thüringen", "Wasserstoff", "Chempark"]


def test_guid_falls_back_to_the_link(now: datetime):
    item = normalise(raw(guid=None), feed_id="bw", feed_tags=[], now=now)

    assert item.guid == "https://example.org/meldungen/1"


def test_content_hash_follows_title_and_text(now: datetime):
    first = normalise(raw(), feed_id="bw", feed_tags=[], now=now)
    same = normalise(raw(tags=["anders"]), feed_id="bw", feed_tags=[], now=now)
    retitled = normalise(raw(title="Neuer Titel"), feed_id="bw", feed_tags=[], now=now)

    assert first.content_hash == same.content_hash
    assert first.content_hash != retitled.content_hash
    expected = f"{first.title}\n{first.summary_text}".encode()
    assert first.content_hash == hashlib.sha256(expected).hexdigest()
