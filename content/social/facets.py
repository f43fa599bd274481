"""Bluesky rich-text facets: which byte ranges of a post are links, hashtags and mentions.

Bluesky shows plain text unless the record says, in ``app.bsky.richtext.facet`` entries, which
ranges are links, tags or mentions. The ranges are UTF-8 byte offsets (not characters, not
UTF-16 units), so "Grüße" or an emoji before a link shifts it by more than its length in
characters; getting this wrong makes the wrong words clickable. Detection follows the Bluesky
app's ``detectFacets`` where it matters for what we post: tags are "#" after a space or the
start, trailing punctuation stripped, at most 64 characters, not only digits; links are found
with twitter-text's extractor (a bare domain becomes an https:// link, as in the app);
mentions are ``@handle.domain`` and need the account's DID, which only the network knows, so
a mention without a resolved DID stays plain text and is reported instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import regex

from content.social.extract import extract_urls

# @atproto/api rich-text/util.ts: TAG_REGEX and MENTION_REGEX.
_INVISIBLE: Final = "\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
_TAG = regex.compile(
    rf"(?P<lead>^|\s)[#＃](?P<tag>(?!\ufe0f)[^\s{_INVISIBLE}]*"
    rf"[^\d\s\p{{P}}{_INVISIBLE}]+[^\s{_INVISIBLE}]*)?"
)
_TRAILING_PUNCTUATION = regex.compile(r"\p{P}+$")
_MAX_TAG_LENGTH: Final = 64
_MENTION = regex.compile(r"(?P<lead>^|\s|\()@(?P<handle>[a-zA-Z0-9.-]+)\b")
# atproto handle syntax: dot-separated labels, the last one (TLD) not starting with a digit.
_HANDLE = regex.compile(
    r"^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$"
)

FACET_TYPE: Final = "app.bsky.richtext.facet"

DidResolver = Callable[[str], str | None]
"""Handle (without "@") to DID, or None when the handle cannot be resolved."""


@dataclass(frozen=True)
class RichText:
    """A post's text with its facets, and the mentions that could not become facets."""

    text: str
    facets: list[dict[str, Any]]
    unresolved_mentions: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """The text and facets as in an ``app.bsky.feed.post`` record."""
        return {"text": self.text, "facets": self.facets}


def _utf8_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _facet(text: str, start: int, end: int, feature: dict[str, Any]) -> dict[str, Any]:
    return {
        "$type": FACET_TYPE,
        "index": {"byteStart": _utf8_offset(text, start), "byteEnd": _utf8_offset(text, end)},
        "features": [feature],
    }


def _link_facets(text: str) -> list[tuple[int, int, dict[str, Any]]]:
    found = []
    for url in extract_urls(text):
        uri = url.value if "://" in url.value else f"https://{url.value}"
        found.append((url.start, url.end, {"$type": f"{FACET_TYPE}#link", "uri": uri}))
    return found


def _tag_facets(text: str) -> list[tuple[int, int, dict[str, Any]]]:
    found = []
    for match in _TAG.finditer(text):
        if match["tag"] is None:
            continue
        tag = _TRAILING_PUNCTUATION.sub("", match["tag"].strip())
        if not tag or len(tag) > _MAX_TAG_LENGTH:
            continue
        start = match.start("tag") - 1
        found.append((start, start + 1 + len(tag), {"$type": f"{FACET_TYPE}#tag", "tag": tag}))
    return found


def _mention_facets(
    text: str, resolve: DidResolver | None, unresolved: list[str]
) -> list[tuple[int, int, dict[str, Any]]]:
    found = []
    for match in _MENTION.finditer(text):
        handle = match["handle"].rstrip(".-")
        if not _HANDLE.match(handle):
            continue
        did = resolve(handle.lower()) if resolve is not None else None
        if did is None:
            unresolved.append(handle)
            continue
        start = match.start("handle") - 1
        end = start + 1 + len(handle)
        found.append((start, end, {"$type": f"{FACET_TYPE}#mention", "did": did}))
    return found


def rich_text(text: str, resolve: DidResolver | None = None) -> RichText:
    """Facets for every link, hashtag and (resolvable) mention of ``text``, in text order.

    Overlaps are settled the way a reader sees the text: a link wins over a "#fragment" or
    "@path" inside it, because it starts first.
    """
    unresolved: list[str] = []
    candidates = sorted(
        [*_link_facets(text), *_tag_facets(text), *_mention_facets(text, resolve, unresolved)],
        key=lambda entity: (entity[0], -entity[1]),
    )
    facets = []
    covered_until = 0
    for start, end, feature in candidates:
        if start < covered_until:
            continue
        facets.append(_facet(text, start, end, feature))
        covered_until = end
    return RichText(text, facets, unresolved)
