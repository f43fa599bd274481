"""What X and Mastodon will turn into a hashtag or a link, per twitter-text's extractor.

A hashtag or link we emit is only worth its characters if the platform makes it clickable;
``#2026`` (all digits) or a link with user info is plain text there. Both platforms use
twitter-text's extraction rules (Mastodon's ``Extractor`` is a port), so these checks decide
for both. ``twitter-text-parser`` covers URLs but has no hashtag extractor, so the hashtag
rule is ported here from twitter-text's ``validHashtag`` regex and its post-match checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import regex
from twitter_text import extract_urls_with_indices

# twitter-text: hashtagAlpha, hashtagAlphaNumeric (letters, marks, decimal digits and a few
# joiners used inside words of some scripts), hashtagBoundary and validHashtag.
_SPECIAL: Final = (
    "_\u200c\u200d\ua67e\u05be\u05f3\u05f4\uff5e"  # joiners, Cyrillic, Hebrew, wave dash
    "\u301c\u309b\u309c\u30a0\u30fb\u3003\u0f0b\u0f0c\u00b7"  # Japanese, Tibetan, middle dot
)
_ALPHA: Final = r"[\p{L}\p{M}]"
_ALNUM: Final = rf"[\p{{L}}\p{{M}}\p{{Nd}}{_SPECIAL}]"
_HASHTAG = regex.compile(
    rf"(?P<before>^|\uFE0E|\uFE0F|$|(?!{_ALNUM}|&)[\s\S])"
    rf"[#＃](?!\uFE0F|\u20E3)(?P<tag>{_ALNUM}*{_ALPHA}{_ALNUM}*)",
    regex.IGNORECASE,
)
# A candidate followed by another hash sign or "://" is not a hashtag (twitter-text).
_END_HASHTAG = regex.compile(r"[#＃]|://")


@dataclass(frozen=True)
class Entity:
    """A hashtag (without "#") or URL and its code-point offsets in the text."""

    kind: str
    value: str
    start: int
    end: int


def extract_urls(text: str, *, without_protocol: bool = True) -> list[Entity]:
    """URLs as twitter-text finds them; without a protocol only on known top-level domains."""
    return [
        Entity("url", found["url"], found["indices"][0], found["indices"][1])
        for found in extract_urls_with_indices(text, extract_urls_without_protocol=without_protocol)
    ]


def extract_hashtags(text: str) -> list[Entity]:
    """Hashtags per twitter-text's ``extractHashtagsWithIndices``, URLs taking precedence.

    A "#fragment" inside a link is part of the link, not a hashtag; twitter-text drops
    every hashtag that overlaps a URL, and so do we.
    """
    tags: list[Entity] = []
    for match in _HASHTAG.finditer(text):
        if _END_HASHTAG.match(text, match.end()):
            continue
        start = match.start("tag") - 1
        tags.append(Entity("hashtag", match["tag"], start, match.end("tag")))
    urls = extract_urls(text)
    return [
        tag for tag in tags if not any(url.start < tag.end and tag.start < url.end for url in urls)
    ]


def is_valid_hashtag(text: str) -> bool:
    """Whether ``text`` ("#Tag") is exactly one hashtag: twitter-text's ``isValidHashtag``."""
    found = extract_hashtags(text)
    return len(found) == 1 and found[0].start == 0 and found[0].end == len(text)


def is_linkified(url: str) -> bool:
    """Whether X and Mastodon make all of ``url`` one link (http or https, found whole).

    Stricter than twitter-text's ``isValidUrl`` in one direction on purpose: URLs with user
    info or an IP address are valid but never extracted, so they would post as dead text.
    """
    if not url.lower().startswith(("http://", "https://")):
        return False
    found = extract_urls(url, without_protocol=False)
    return len(found) == 1 and (found[0].start, found[0].end) == (0, len(url))
