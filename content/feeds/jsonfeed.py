"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1) as :class:`RawEntry` values.

The format is plain JSON, so the standard library reads it; what needs care is that every field
may be missing, of the wrong type or hostile, and that relative URLs resolve against the feed's
home page. JSON must be UTF-8, but feeds written by hand in windows-1252 exist, so the bytes go
through :mod:`content.feeds.encoding` like XML's.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from content.feeds.encoding import decode, http_charset
from content.feeds.entries import (
    ParsedFeed,
    ParseError,
    RawEntry,
    note_skipped,
    problem_text,
    web_url,
)

JSON_FEED_VERSION_PREFIX = "https://jsonfeed.org/version/"


def parse_json_feed(content: bytes, *, url: str, headers: dict[str, str]) -> ParsedFeed:
    problems: list[str] = []
    decoded = decode(content, declared=[http_charset(headers.get("content-type", ""))])
    if decoded.problem:
        problems.append(decoded.problem)
    try:
        document = json.loads(decoded.text)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"{url}: not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ParseError(f"{url}: a JSON Feed must be an object")
    version = document.get("version")
    if not isinstance(version, str) or not version.startswith(JSON_FEED_VERSION_PREFIX):
        raise ParseError(f"{url}: JSON without a JSON Feed version ({JSON_FEED_VERSION_PREFIX}…)")
    items = document.get("items")
    if not isinstance(items, list):
        raise ParseError(f"{url}: JSON Feed without an items list")
    base = web_url(_text(document.get("home_page_url"))) or web_url(_text(document.get("feed_url")))
    base = base or url
    entries: list[RawEntry] = []
    for item in items:
        entry = _entry(item, base=base) if isinstance(item, dict) else None
        if entry is not None:
            entries.append(entry)
    note_skipped(problems, len(items) - len(entries))
    return ParsedFeed(
        title=_text(document.get("title")) or None,
        entries=entries,
        problem=problem_text(url, problems),
    )


def _entry(item: dict[str, Any], *, base: str) -> RawEntry | None:
    raw_id = item.get("id")
    guid = str(raw_id) if isinstance(raw_id, str | int) and str(raw_id) else None
    link = None
    for candidate in (item.get("url"), item.get("external_url")):
        if isinstance(candidate, str) and candidate.strip():
            link = web_url(urljoin(base, candidate.strip()))
            if link:
                break
    link = link or web_url(guid)
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
    title = _text(item.get("title"))
    if not title and not summary_html:
        return None
    published = _from_rfc3339(item.get("date_published")) or _from_rfc3339(
        item.get("date_modified")
    )
    raw_tags = item.get("tags")
    tags: list[Any] = raw_tags if isinstance(raw_tags, list) else []
    return RawEntry(
        guid=guid,
        link=link,
        title=title,
        summary_html=summary_html,
        published=published,
        tags=[tag for tag in tags if isinstance(tag, str) and tag],
        base=link,
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


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
