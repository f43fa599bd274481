"""Post length exactly as each platform counts it, so a post we accept is never rejected.

Each counter mirrors the platform's own server-side rule rather than ``len()``:
a post that is one unit over the limit fails at publish time, long after the
campaign was scheduled, so an approximation that is "usually right" is not enough.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

import regex
from twitter_text import extract_urls_with_indices, parse_tweet
from twitter_text.config import config as _twitter_text_config

LIMITS: Final[Mapping[str, int]] = MappingProxyType(
    {"mastodon": 500, "bluesky": 300, "linkedin": 3000, "x": 280}
)
"""Default per-platform limits; read-only so one instance's own limit can't leak into all."""

# Pinned explicitly rather than relying on the library default, so a library upgrade
# that changes its default config cannot silently change how we count.
_X_CONFIG: Final[dict[str, Any]] = _twitter_text_config["version3"]

# Mastodon replaces every linkified URL with this many characters before counting.
_MASTODON_URL_LENGTH: Final = 23

# Mastodon's Account::MENTION_RE: "@user" optionally followed by "@domain".
_MASTODON_MENTION = regex.compile(
    r"(?<![=/\w])@(?P<user>[a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)(?:@[\w.-]+\w+)?",
    regex.IGNORECASE,
)
# twitter-text's end_mention_match: a candidate followed by these is not a mention.
# Checked after the greedy match (no backtracking), exactly as Mastodon's extractor does.
_MASTODON_MENTION_REJECT_AFTER = regex.compile(r"[@＠\w]|://")

_GRAPHEME = regex.compile(r"\X")


def x_length(text: str) -> int:
    """X weighted length per twitter-text v3 (URLs 23, CJK 2, emoji sequences 2).

    Delegates to ``twitter-text-parser``: it passes every v3 case of the official
    conformance suite, and re-implementing URL extraction and emoji sequences is
    exactly the kind of code that drifts from the real thing.
    """
    return int(parse_tweet(text, options=_X_CONFIG).weightedLength)


def x_is_valid(text: str) -> bool:
    """Whether X would accept the text: non-empty, within 280 and free of invalid characters.

    Length alone is not enough on X: U+FFFE, U+FFFF and a few others make a post
    invalid however short it is.
    """
    return bool(parse_tweet(text, options=_X_CONFIG).valid)


def bluesky_length(text: str) -> int:
    """Bluesky counts extended grapheme clusters, so "👨‍👩‍👧‍👦" and "ü" (u + U+0308) count 1."""
    return sum(1 for _ in _GRAPHEME.finditer(text))


def mastodon_length(text: str, url_length: int = _MASTODON_URL_LENGTH) -> int:
    """Mastodon's count: each http(s) URL is 23, ``@user@domain`` counts as ``@user``.

    ``url_length`` is the instance's ``characters_reserved_per_url`` (23 on stock Mastodon,
    configurable on forks such as Glitch and Hometown).

    URLs are found with the same twitter-text extractor Mastodon uses (protocol
    required), so trailing punctuation and invalid hosts are treated the same way.
    Everything else counts in code points; Mastodon's server counts grapheme
    clusters, which are never more, so this can only err on the safe side.
    """
    # (start, end, counted length) for every discounted entity, URLs first.
    entities: list[tuple[int, int, int]] = [
        (url["indices"][0], url["indices"][1], url_length)
        for url in extract_urls_with_indices(text, extract_urls_without_protocol=False)
        if url["url"].lower().startswith(("http://", "https://"))
    ]
    for match in _MASTODON_MENTION.finditer(text):
        if _MASTODON_MENTION_REJECT_AFTER.match(text, match.end()):
            continue
        entities.append((match.start(), match.end(), len(match["user"]) + 1))

    total = len(text)
    covered_until = 0
    # Like Mastodon's remove_overlapping_entities: earliest entity wins an overlap,
    # e.g. "@user@host" inside a URL path stays part of the URL.
    for start, end, counted in sorted(entities):
        if start < covered_until:
            continue
        total += counted - (end - start)
        covered_until = end
    return total


def linkedin_length(text: str) -> int:
    """LinkedIn's limit is measured in code points; links are not shortened."""
    return len(text)


_COUNTERS: Final[Mapping[str, Callable[[str], int]]] = MappingProxyType(
    {
        "mastodon": mastodon_length,
        "bluesky": bluesky_length,
        "linkedin": linkedin_length,
        "x": x_length,
    }
)


def length(platform: str, text: str, *, url_length: int | None = None) -> int:
    """Length of ``text`` as ``platform`` counts it; unknown platforms raise ValueError.

    Raising instead of falling back to ``len()`` keeps a typo in a channel
    configuration from silently producing posts the platform rejects. ``url_length``
    is a Mastodon instance's own URL weight; the other platforms fix theirs.
    """
    try:
        counter = _COUNTERS[platform]
    except KeyError:
        known = ", ".join(sorted(_COUNTERS))
        raise ValueError(f"unknown platform {platform!r}; expected one of: {known}") from None
    if platform == "mastodon" and url_length is not None:
        return mastodon_length(text, url_length)
    return counter(text)
