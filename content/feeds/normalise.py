"""Make an entry comparable and safe: canonical URL, clean title, sanitised summary, UTC time.

Everything here is a pure function of the entry, the feed's settings and ``now``, so the rules
that decide whether two feeds carried the same story are testable without a network or database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from content.feeds.dedupe import Fingerprint, fingerprint
from content.feeds.entries import RawEntry
from content.feeds.sanitise import (
    collapse_whitespace,
    html_to_text,
    sanitise_html,
    sanitised_html_to_text,
)

TITLE_MAX_CHARS = 300
SUMMARY_HTML_MAX_CHARS = 10_000
ELLIPSIS = "…"

TRACKING_PARAMETERS = frozenset({"fbclid", "gclid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "yclid"})
TRACKING_PREFIXES = ("utm_",)
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class NormalisedItem:
    """An entry ready to store; ``item_id`` is the first 24 hex digits of sha256(canonical_url)."""

    item_id: str
    guid: str
    link: str
    canonical_url: str
    title: str
    summary_html: str
    summary_text: str
    published: datetime
    tags: list[str] = field(default_factory=list)
    content_hash: str = ""
    # The feed dated the entry after ``now``: a clock or timezone slip worth reporting.
    clamped: bool = False
    # For near-duplicate detection; computed here, where the work may run in parallel.
    fingerprint: Fingerprint | None = field(default=None, compare=False)


def item_id_for(canonical: str) -> str:
    """The item's key: the same story under the same canonical URL is one item in every feed."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:24]


def canonical_url(url: str) -> str:
    """The URL two feeds would agree on for one story.

    Scheme and host are lower-cased, default ports, fragments and campaign-tracking parameters
    dropped. Every other parameter stays, in order and in its original encoding: dropping or
    re-encoding a meaningful parameter (``?id=42``) would merge different stories.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    netloc = _canonical_netloc(parts.netloc, scheme)
    path = parts.path or ("/" if netloc else "")
    query = "&".join(pair for pair in parts.query.split("&") if pair and not _is_tracking(pair))
    return urlunsplit((scheme, netloc, path, query, ""))


def _canonical_netloc(netloc: str, scheme: str) -> str:
    userinfo, at, hostport = netloc.rpartition("@")
    host, colon, port = hostport.rpartition(":") if not hostport.endswith("]") else ("", "", "")
    if not colon or not port.isdigit():
        host, port = hostport, ""
    if port and int(port) == DEFAULT_PORTS.get(scheme):
        port = ""
    host = host.lower().rstrip(".")
    return f"{userinfo}{at}{host}{':' + port if port else ''}"


def _is_tracking(pair: str) -> bool:
    name = unquote_plus(pair.partition("=")[0]).lower()
    return name in TRACKING_PARAMETERS or name.startswith(TRACKING_PREFIXES)


def normalise(
    entry: RawEntry, *, feed_id: str, feed_tags: list[str], now: datetime
) -> NormalisedItem:
    """Clean one entry of feed ``feed_id``; ``now`` (aware) stands in for a missing date.

    A date in the future is clamped to ``now``: it is a publisher's clock or timezone mistake,
    and an item "published tomorrow" would stay on top of every ranking and dodge lookbacks.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    canonical = canonical_url(entry.link)
    summary_html = _bounded_html(sanitise_html(entry.summary_html, entry.base or entry.link))
    summary_text = sanitised_html_to_text(summary_html)
    title = _bounded(_clean_title(entry.title), TITLE_MAX_CHARS)
    if not title:
        title = _bounded(collapse_whitespace(summary_text), TITLE_MAX_CHARS) or canonical
    now_utc = now.astimezone(UTC)
    published = entry.published.astimezone(UTC) if entry.published else now_utc
    return NormalisedItem(
        item_id=item_id_for(canonical),
        guid=(entry.guid or "").strip() or entry.link,
        link=entry.link,
        canonical_url=canonical,
        title=title,
        summary_html=summary_html,
        summary_text=summary_text,
        published=min(published, now_utc),
        tags=merge_tags(feed_tags, entry.tags),
        content_hash=hashlib.sha256(f"{title}\n{summary_text}".encode()).hexdigest(),
        clamped=published > now_utc,
        fingerprint=fingerprint(title, summary_text),
    )


def merge_tags(*groups: list[str]) -> list[str]:
    """Tags in first-seen order, trimmed, without case-insensitive repeats."""
    seen: set[str] = set()
    merged: list[str] = []
    for group in groups:
        for tag in group:
            tag = collapse_whitespace(tag)
            if tag and tag.casefold() not in seen:
                seen.add(tag.casefold())
                merged.append(tag)
    return merged


def _clean_title(title: str) -> str:
    """Titles may carry markup and (double) entities; readers see one line of plain text."""
    if "<" not in title and "&" not in title:
        return collapse_whitespace(title)
    return collapse_whitespace(html_to_text(title))


def _bounded(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - len(ELLIPSIS)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def _bounded_html(html: str) -> str:
    """Shorten long HTML without leaving half a tag or entity; the sanitiser re-closes tags."""
    if len(html) <= SUMMARY_HTML_MAX_CHARS:
        return html
    cut = html[: SUMMARY_HTML_MAX_CHARS - len(ELLIPSIS)]
    if cut.rfind("<") > cut.rfind(">"):
        cut = cut[: cut.rfind("<")]
    if cut.rfind("&") > cut.rfind(";"):
        cut = cut[: cut.rfind("&")]
    space = cut.rfind(" ")
    if space > len(cut) // 2:
        cut = cut[:space]
    # Re-sanitising closes the tags the cut left open; links are absolute by now.
    return sanitise_html(cut + ELLIPSIS, "")
