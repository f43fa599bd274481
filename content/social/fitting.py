"""Compose "body, link, hashtags" into one post that the platform is guaranteed to accept.

The link and hashtags carry the campaign (tracking, discoverability), so the body
gives way first: it is shortened at a word boundary, and only when even one word of
body does not fit are hashtags dropped, last first. Cutting only between words means
a URL, hashtag or mention inside the body is either kept whole or left out entirely.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import regex

from content.social.counting import LIMITS, length

ELLIPSIS: Final = "…"
SEPARATOR: Final = "\n\n"

# A "word" is a run of anything but breaking whitespace. No-break spaces (U+00A0,
# U+2007, U+202F) bind like letters: German typography uses them in "z. B.", "§ 5",
# "10 km" precisely so the two halves are never separated.
WORD = regex.compile(r"(?:[^\s]|[\u00A0\u2007\u202F])+")

# Tokens that some platform would linkify. An ellipsis glued to them can be swallowed
# into the link (Bluesky's link detection takes every non-space character), so they
# get a space before the ellipsis instead.
_LINK_LIKE = regex.compile(r"://|\w\.[^\W\d_]{2,}")


def fit(
    platform: str,
    body: str,
    link: str | None,
    hashtags: Sequence[str] = (),
    limit: int | None = None,
    url_length: int | None = None,
) -> str:
    """Return "body\\n\\nlink\\n\\n#Tag1 #Tag2", shortened until ``platform`` accepts it.

    ``limit`` overrides the platform default, e.g. a Mastodon instance allowing 1000, and
    ``url_length`` that instance's weight of a URL.
    Hashtags may be given with or without "#"; their CamelCase is kept as given
    (it is what screen readers need). Raises ValueError when not even the first word
    of the body fits next to the link, because a post without its message is a
    content decision, not a formatting one.
    """
    if platform not in LIMITS:
        known = ", ".join(sorted(LIMITS))
        raise ValueError(f"unknown platform {platform!r}; expected one of: {known}")
    max_length = LIMITS[platform] if limit is None else limit
    if max_length <= 0:
        raise ValueError(f"limit must be positive, got {max_length}")

    body = body.strip()
    link = check_link(link)
    tags = [normalise_hashtag(tag) for tag in hashtags]
    if not body and not link and not tags:
        raise ValueError("nothing to post: body, link and hashtags are all empty")

    for kept in range(len(tags), -1, -1):
        post = _fit_body(platform, body, link, tags[:kept], max_length, url_length)
        if post is not None:
            return post
    raise ValueError(
        f"post does not fit the {platform} limit of {max_length}"
        " even with the body cut to one word and no hashtags"
    )


def _fit_body(
    platform: str,
    body: str,
    link: str,
    tags: Sequence[str],
    max_length: int,
    url_length: int | None,
) -> str | None:
    """Longest post with these hashtags: the whole body, else the most words plus "…"."""

    def fits(candidate_body: str) -> bool:
        composed = compose(candidate_body, link, tags)
        return length(platform, composed, url_length=url_length) <= max_length

    if fits(body):
        return compose(body, link, tags)
    words = list(WORD.finditer(body))

    def truncated(index: int) -> str:
        """Body cut after word ``index``; built lazily, as bodies can be whole articles."""
        return truncated_with_ellipsis(body[: words[index].end()], words[index].group())

    # Candidates are all proper prefixes of whole words; the full body was tried above.
    index = last_fitting(len(words) - 1, lambda position: fits(truncated(position)))
    return None if index is None else compose(truncated(index), link, tags)


def last_fitting(count: int, fits: Callable[[int], bool]) -> int | None:
    """Largest index below ``count`` that fits, assuming length grows with the index.

    Galloping (1, 2, 4, ... words) before bisecting keeps every measurement short:
    bodies are often whole articles while posts hold a few dozen words, and X's
    counter is slow on long texts. Only measured indices are returned, so a rare
    non-monotonic step can cost a word but never yield an over-long post.
    """
    if count == 0 or not fits(0):
        return None
    best, step = 0, 1
    while best + step < count and fits(best + step):
        best += step
        step *= 2
    # The answer now lies in [best, best + step); bisect the untested part.
    low, high = best + 1, min(best + step, count) - 1
    while low <= high:
        middle = (low + high) // 2
        if fits(middle):
            best, low = middle, middle + 1
        else:
            high = middle - 1
    return best


def truncated_with_ellipsis(kept: str, last_word: str) -> str:
    """``kept`` plus an ellipsis, spaced off when it would stick to a link."""
    joiner = " " if _LINK_LIKE.search(last_word) else ""
    return f"{kept.rstrip()}{joiner}{ELLIPSIS}"


def compose(body: str, link: str, tags: Sequence[str]) -> str:
    """Join the non-empty parts with blank lines, hashtags last on one line."""
    parts = [body, link, " ".join(tags)]
    return SEPARATOR.join(part for part in parts if part)


def check_link(link: str | None) -> str:
    """The link, stripped; whitespace inside would make platforms cut it, so reject it."""
    link = (link or "").strip()
    if regex.search(r"\s", link):
        raise ValueError(f"link must not contain whitespace: {link!r}")
    return link


def normalise_hashtag(tag: str) -> str:
    """Prefix "#" unless given; a tag with spaces would silently become a shorter tag."""
    name = tag.strip().removeprefix("#")
    if not name or regex.search(r"[\s#]", name):
        raise ValueError(f"invalid hashtag: {tag!r}")
    return f"#{name}"
