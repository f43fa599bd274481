"""Split a text too long for one post into a numbered thread, every post within the limit.

When a deliverable asks for a thread, nothing of the text is cut away: it is spread over posts
that each end with their number ("(2/3)"), breaking after a sentence where that keeps a post at
least half full, else between words (so never inside a URL, hashtag or mention). The first post
carries the one link and the hashtags: it is the post that gets shared, shown with a link card
and found through the tags, so it must stand on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Final

import regex

from content.social.counting import LIMITS, length
from content.social.fitting import (
    WORD,
    check_link,
    compose,
    fit,
    last_fitting,
    normalise_hashtag,
    truncated_with_ellipsis,
)

MAX_POSTS: Final = 10
"""Longer threads lose their readers; the last allowed post ends with "…" instead."""

# A sentence ends with a lowercase word and ., ! or ? (so "9." and "Dr." do not), and the
# next word starts with a capital.
_SENTENCE_END = regex.compile(r"\p{Ll}{3,}[.!?…][“‘)]?$")
_SENTENCE_START = regex.compile(r"^[„‚(]?[\p{Lu}\d]")


def numbering(index: int, total: int) -> str:
    return f"({index}/{total})"


def thread(
    platform: str,
    body: str,
    link: str | None,
    hashtags: Sequence[str] = (),
    *,
    limit: int | None = None,
    url_length: int | None = None,
    max_posts: int = MAX_POSTS,
) -> list[str]:
    """Posts of the thread in order; a single post (unnumbered) when the whole text fits.

    Raises ValueError like :func:`fit` when not even one word fits beside the link.
    """
    max_length = LIMITS[platform] if limit is None else limit
    body = body.strip()
    link = check_link(link)
    tags = [normalise_hashtag(tag) for tag in hashtags]
    single = fit(platform, body, link, tags, limit=max_length, url_length=url_length)
    if single == compose(body, link, tags):
        return [single]
    words = list(WORD.finditer(body))

    def measure(text: str) -> int:
        return length(platform, text, url_length=url_length)

    # The width of "(i/n)" depends on the digits of n: split, then re-split if n grew a digit.
    # Labels measured wider than the final ones still fit, so the width only ever grows.
    total = 2
    while True:
        posts = _split(body, words, link, tags, total, max_posts, max_length, measure)
        if len(str(len(posts))) <= len(str(total)):
            break
        total = len(posts)
    count = len(posts)
    return [
        compose(
            f"{chunk} {numbering(index, count)}",
            link if index == 1 else "",
            post_tags if index == 1 else [],
        )
        for index, (chunk, post_tags) in enumerate(posts, start=1)
    ]


def _split(
    body: str,
    words: list[regex.Match[str]],
    link: str,
    tags: list[str],
    total: int,
    max_posts: int,
    max_length: int,
    measure: Callable[[str], int],
) -> list[tuple[str, list[str]]]:
    """Greedy split: each post takes as many words as fit, ending a sentence where it can."""
    label = numbering(total, total)  # the widest label of this thread
    posts: list[tuple[str, list[str]]] = []
    first = 0
    while first < len(words):
        is_first = not posts
        post_tags, post_link = (tags, link) if is_first else ([], "")

        def chunk(last: int, first: int = first) -> str:
            return body[words[first].start() : words[last].end()]

        def fits(text: str, post_tags: list[str] = post_tags, post_link: str = post_link) -> bool:
            return measure(compose(f"{text} {label}", post_link, post_tags)) <= max_length

        def shortened(last: int, first: int = first) -> str:
            return truncated_with_ellipsis(chunk(last, first), words[last].group())

        remaining = len(words) - first
        if len(posts) == max_posts - 1 and not fits(chunk(len(words) - 1)):
            # No room for another post: this one ends with an ellipsis.
            offset = last_fitting(remaining - 1, partial(_at, shortened, fits, first))
            if offset is None:
                raise ValueError(f"the thread does not fit {max_posts} posts of {max_length}")
            posts.append((shortened(first + offset), post_tags))
            break
        offset = last_fitting(remaining, partial(_at, chunk, fits, first))
        if offset is None:
            if is_first and tags:
                # Not even a word fits beside link and hashtags: drop hashtags, last first.
                tags = tags[:-1]
                continue
            raise ValueError(f"a word of the text does not fit a post of {max_length}")
        end = first + offset
        if end < len(words) - 1:
            end = _sentence_break(words, first, end)
        posts.append((chunk(end), post_tags))
        first = end + 1
    return posts


def _at(text_of: Callable[[int], str], fits: Callable[[str], bool], first: int, k: int) -> bool:
    """Whether the post made of words ``first`` to ``first + k`` fits (for bisection)."""
    return fits(text_of(first + k))


def _sentence_break(words: list[regex.Match[str]], first: int, end: int) -> int:
    """The last word ending a sentence in the second half of the chunk, else ``end``."""
    for candidate in range(end, max(first, first + (end - first) // 2) - 1, -1):
        if _SENTENCE_END.search(words[candidate].group()) and _SENTENCE_START.match(
            words[candidate + 1].group()
        ):
            return candidate
    return end
