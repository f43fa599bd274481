"""RSS 0.9x, RSS 1.0 (RDF), RSS 2.0 and Atom through feedparser, as :class:`RawEntry` values.

feedparser only parses here. It is handed bytes in a stream, never a URL or a string (given a
``str`` it would fetch URLs, and given ``bytes`` that happen to name a file it would read that
file), and the bytes are UTF-8 with the DTD already removed (see :mod:`content.feeds.encoding`
and :mod:`content.feeds.defuse`). Its HTML sanitiser and relative-URI pass are switched off:
they cost about half of its time, and :mod:`content.feeds.sanitise` does both with nh3, far
faster and stricter (feedparser lets ``JaVaScRiPt&#58;`` links through). The base URL each
summary's links resolve against travels with the entry instead.
"""

from __future__ import annotations

import html
import io
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
from feedparser.exceptions import ThingsNobodyCaresAboutButMe

from content.feeds.defuse import remove_doctype
from content.feeds.encoding import as_utf8_xml, decode, http_charset, xml_prolog_encoding
from content.feeds.entries import (
    ParsedFeed,
    ParseError,
    RawEntry,
    note_skipped,
    problem_text,
    web_url,
)

_DATE_KEYS = ("published_parsed", "updated_parsed", "created_parsed")


def parse_xml_feed(content: bytes, *, url: str, headers: dict[str, str]) -> ParsedFeed:
    """Parse an XML feed fetched from ``url`` (the base for relative links without xml:base)."""
    problems: list[str] = []
    decoded = decode(
        content,
        declared=[http_charset(headers.get("content-type", "")), xml_prolog_encoding(content)],
    )
    defused = remove_doctype(decoded.text)
    for problem in (decoded.problem, defused.problem):
        if problem:
            problems.append(problem)
    try:
        result = feedparser.parse(
            io.BytesIO(as_utf8_xml(defused.text)),
            # No content-location: given a base URL, feedparser joins it onto every element
            # and takes twice as long; relative links are joined here, once per entry.
            response_headers={"content-type": "application/xml; charset=utf-8"},
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except Exception as exc:  # feedparser is not expected to raise; if it does, it is this feed
        raise ParseError(f"{url}: cannot parse feed: {exc}") from exc
    exception = result.get("bozo_exception")
    if result.get("bozo") and not isinstance(exception, ThingsNobodyCaresAboutButMe):
        problems.append(f"not well-formed, read what could be recovered: {exception}")
    raw_entries = result.get("entries") or []
    if not raw_entries and (not result.get("version") or not result.get("feed")):
        reason = problems[-1] if problems else "not an RSS, Atom or JSON feed"
        raise ParseError(f"{url}: {reason}")
    entries = [entry for entry in (_entry(raw, url) for raw in raw_entries) if entry is not None]
    note_skipped(problems, len(raw_entries) - len(entries))
    feed_title = result.get("feed", {}).get("title")
    return ParsedFeed(
        title=feed_title or None, entries=entries, problem=problem_text(url, problems)
    )


def _entry(raw: Any, feed_url: str) -> RawEntry | None:
    # feedparser's dictionaries resolve legacy key names on every lookup; the keys read here
    # are the current ones, so a plain dict answers the same, several times faster.
    data: dict[str, Any] = dict(raw)
    guid = data.get("id") or None
    link = web_url(_absolute(feed_url, data.get("link"))) or web_url(guid)
    if link is None:
        return None
    summary, detail = _summary(data)
    title = data.get("title") or ""
    if not title.strip() and not summary.strip():
        return None  # nothing a reader could see: typically the cut-off end of a broken feed
    tags = [tag.get("term") or tag.get("label") or "" for tag in data.get("tags") or []]
    return RawEntry(
        guid=guid,
        link=link,
        title=title,
        summary_html=summary,
        published=_published(data),
        tags=[tag for tag in tags if tag],
        base=web_url(_absolute(feed_url, detail.get("base"))) or feed_url,
    )


def _absolute(feed_url: str, value: Any) -> str | None:
    """``value`` resolved against the feed's URL; xml:base is already applied by feedparser."""
    if not isinstance(value, str) or not value.strip():
        return None
    text: str = value.strip()
    return text if text.startswith(("https://", "http://")) else urljoin(feed_url, text)


def _summary(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The teaser as HTML, and feedparser's detail (type and base) for it."""
    value = data.get("summary") or ""
    detail = data.get("summary_detail")
    if (not value or detail is None) and data.get("content"):
        # Atom content without a summary: feedparser may echo it as ``summary`` but gives its
        # base (the xml:base in force) only with the content.
        detail = data["content"][0]
        value = detail.get("value", "")
    details: dict[str, Any] = dict(detail or {})
    if details.get("type") == "text/plain":
        value = html.escape(value)
    return value, details


def _published(data: dict[str, Any]) -> datetime | None:
    for key in _DATE_KEYS:
        moment = _from_struct_time(data.get(key))
        if moment is not None:
            return moment
    return None


def _from_struct_time(value: time.struct_time | None) -> datetime | None:
    """feedparser's ``*_parsed`` values are already in UTC."""
    if value is None:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None
