"""Turn a feed's bytes into one entry shape, whatever the format.

RSS and Atom go through feedparser, JSON Feed through the json module; both adapters produce
:class:`RawEntry`, so nothing downstream knows which format a story came in. feedparser is only
ever handed the bytes in a stream, never a URL or a string: given a ``str`` it would fetch URLs,
and given ``bytes`` that happen to name a file it would read that file.
"""

from __future__ import annotations

import html
import io
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
from feedparser.exceptions import ThingsNobodyCaresAboutButMe

JSON_FEED_VERSION_PREFIX = "https://jsonfeed.org/version/"
_WEB_SCHEMES = ("http", "https")


class ParseError(Exception):
    """The bytes are not a feed we can read at all; the message names the URL."""


@dataclass(frozen=True)
class RawEntry:
    """One entry as the feed states it, before any cleaning; ``link`` is always absolute."""

    guid: str | None
    link: str
    title: str
    summary_html: str
    published: datetime | None
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ParsedFeed:
    """A readable feed; ``problem`` describes what was wrong but could be worked around."""

    title: str | None
    entries: list[RawEntry]
    problem: str | None = None


def parse(content: bytes, *, url: str, headers: dict[str, str]) -> ParsedFeed:
    """Parse ``content`` fetched from ``url``; ``headers`` guide encoding and base URL.

    Raises :class:`ParseError` only when nothing usable came out: a feed with entries and a
    syntax slip is still read (as feed readers do) and the slip is reported as ``problem``.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    if _is_json(content, lowered):
        return _parse_json_feed(content, url=url)
    return _parse_xml_feed(content, url=url, headers=lowered)


def _is_json(content: bytes, headers: dict[str, str]) -> bool:
    head = content[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return True
    return "json" in headers.get("content-type", "") and not head.startswith(b"<")


# --- RSS and Atom -------------------------------------------------------------------------------


def _parse_xml_feed(content: bytes, *, url: str, headers: dict[str, str]) -> ParsedFeed:
    headers.setdefault("content-location", url)  # base for feedparser's relative links
    try:
        result = feedparser.parse(io.BytesIO(content), response_headers=headers)
    except Exception as exc:  # feedparser is not expected to raise; if it does, it is this feed
        raise ParseError(f"{url}: cannot parse feed: {exc}") from exc
    problems: list[str] = []
    exception = result.get("bozo_exception")
    if result.get("bozo") and not isinstance(exception, ThingsNobodyCaresAboutButMe):
        problems.append(f"not well-formed: {exception}")
    raw_entries = result.get("entries") or []
    if not raw_entries and (problems or not result.get("version")):
        reason = problems[0] if problems else "not an RSS, Atom or JSON feed"
        raise ParseError(f"{url}: {reason}")
    entries: list[RawEntry] = []
    for raw in raw_entries:
        entry = _xml_entry(raw)
        if entry is not None:
            entries.append(entry)
    _note_skipped(problems, len(raw_entries) - len(entries))
    feed_title = result.get("feed", {}).get("title")
    return ParsedFeed(
        title=feed_title or None,
        entries=entries,
        problem=_problem(url, problems),
    )


def _xml_entry(raw: Any) -> RawEntry | None:
    guid = raw.get("id") or None
    link = _web_url(raw.get("link")) or _web_url(guid)
    if link is None:
        return None
    summary = raw.get("summary") or ""
    if not summary and raw.get("content"):
        summary = raw["content"][0].get("value", "")
    published = None
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        published = _from_struct_time(raw.get(key))
        if published is not None:
            break
    tags = [tag.get("term") or tag.get("label") or "" for tag in raw.get("tags") or []]
    return RawEntry(
        guid=guid,
        link=link,
        title=raw.get("title") or "",
        summary_html=summary,
        published=published,
        tags=[tag for tag in tags if tag],
    )


def _from_struct_time(value: time.struct_time | None) -> datetime | None:
    """feedparser's ``*_parsed`` values are already in UTC."""
    if value is None:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None


# --- JSON Feed ----------------------------------------------------------------------------------


def _parse_json_feed(content: bytes, *, url: str) -> ParsedFeed:
    try:
        document = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"{url}: not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ParseError(f"{url}: a JSON Feed must be an object")
    version = document.get("version")
    if not isinstance(version, str) or not version.startswith(JSON_FEED_VERSION_PREFIX):
        raise ParseError(f"{url}: JSON without a JSON Feed version ({JSON_FEED_VERSION_PREFIX}…)")
    items = document.get("items")
    if not isinstance(items, list):
        raise ParseError(f"{url}: JSON Feed without an items list")
    base = _text(document.get("home_page_url")) or _text(document.get("feed_url")) or url
    entries: list[RawEntry] = []
    for item in items:
        entry = _json_entry(item, base=base) if isinstance(item, dict) else None
        if entry is not None:
            entries.append(entry)
    problems: list[str] = []
    _note_skipped(problems, len(items) - len(entries))
    return ParsedFeed(
        title=_text(document.get("title")) or None,
        entries=entries,
        problem=_problem(url, problems),
    )


def _json_entry(item: dict[str, Any], *, base: str) -> RawEntry | None:
    raw_id = item.get("id")
    guid = str(raw_id) if isinstance(raw_id, str | int) and str(raw_id) else None
    link = None
    for candidate in (item.get("url"), item.get("external_url")):
        if isinstance(candidate, str) and candidate.strip():
            link = _web_url(urljoin(base, candidate.strip()))
            if link:
                break
    link = link or _web_url(guid)
    if link is None:
        return None
    # Summary first, as RSS's description: a teaser fits newsletters better than the full text.
    if summary := _text(item.get("summary")):
        summary_html = f"<p>{html.escape(summary)}</p>"
    elif content_html := _text(item.get("content_html")):
        summary_html = content_html
    elif content_text := _text(item.get("content_text")):
        summary_html = _text_to_html(content_text)
    else:
        summary_html = ""
    published = _from_rfc3339(item.get("date_published")) or _from_rfc3339(
        item.get("date_modified")
    )
    raw_tags = item.get("tags")
    tags: list[Any] = raw_tags if isinstance(raw_tags, list) else []
    return RawEntry(
        guid=guid,
        link=link,
        title=_text(item.get("title")),
        summary_html=summary_html,
        published=published,
        tags=[tag for tag in tags if isinstance(tag, str) and tag],
    )


def _from_rfc3339(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:  # RFC 3339 requires an offset; a missing one is most likely UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _text_to_html(text: str) -> str:
    paragraphs = [part.strip() for part in text.split("\n\n") if part.strip()]
    return "".join("<p>" + html.escape(part).replace("\n", "<br>") + "</p>" for part in paragraphs)


# --- shared -------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _web_url(value: Any) -> str | None:
    """Only absolute http(s) URLs identify a story; ``urn:`` GUIDs and ``file:`` links do not."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() in _WEB_SCHEMES and parts.netloc:
        return url
    return None


def _note_skipped(problems: list[str], skipped: int) -> None:
    if skipped:
        noun = "entry" if skipped == 1 else "entries"
        problems.append(f"{skipped} {noun} without an http(s) link skipped")


def _problem(url: str, problems: list[str]) -> str | None:
    return f"{url}: {'; '.join(problems)}" if problems else None
