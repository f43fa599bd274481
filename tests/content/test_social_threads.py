"""Threads: a long text spread over numbered posts, each within the limit, nothing lost."""

from __future__ import annotations

import re

import pytest

from content.social.counting import LIMITS, length
from content.social.extract import extract_hashtags
from content.social.threads import thread

LINK = "https://zukunft-industrie.example.org/aktuelles/2026/woche?utm_source=x&utm_medium=social"
TAGS = ["WocheDerIndustrie", "ZukunftDerIndustrie"]
SENTENCES = [
    "Das Programm der Woche der Industrie vom 9. bis 13. November 2026 ist veröffentlicht.",
    "In den sechs Modellregionen finden 140 Veranstaltungen statt.",
    "Betriebsrätinnen und Betriebsräte zeigen, wie Mitbestimmung im Werk aussieht 👷.",
    "Schulklassen besuchen Werkstätten in Krefeld, Jena und Koblenz.",
    "Anmeldung unter https://zukunft-industrie.example.org/termine bis Freitag.",
    "Die Teilnahme ist kostenfrei, z.\u00a0B. auch für Familien von Beschäftigten.",
]
BODY = " ".join(SENTENCES * 3)
NUMBER = re.compile(r" \((\d+)/(\d+)\)$")


def _body_of(post: str) -> str:
    return post.split("\n\n", 1)[0]


@pytest.mark.parametrize(
    ("platform", "limit"), [("x", None), ("bluesky", None), ("mastodon", None), ("mastodon", 200)]
)
def test_long_text_becomes_numbered_posts_within_the_limit(
    platform: str, limit: int | None
) -> None:
    posts = thread(platform, BODY, LINK, TAGS, limit=limit)
    assert len(posts) > 1
    max_length = limit or LIMITS[platform]
    assert all(length(platform, post) <= max_length for post in posts)
    numbers = [NUMBER.search(_body_of(post)) for post in posts]
    assert [(int(m[1]), int(m[2])) for m in numbers if m] == [
        (index, len(posts)) for index in range(1, len(posts) + 1)
    ]
    # Nothing of the text is lost or changed: the chunks join up to the body, word for word.
    chunks = [NUMBER.sub("", _body_of(post)) for post in posts]
    assert " ".join(chunks).split() == BODY.split()


def test_link_and_hashtags_are_in_the_first_post_only() -> None:
    posts = thread("x", BODY, LINK, TAGS)
    assert posts[0].endswith(f"\n\n{LINK}\n\n#WocheDerIndustrie #ZukunftDerIndustrie")
    assert all(LINK not in post for post in posts[1:])
    assert all(not extract_hashtags(post) for post in posts[1:])
    # One link per thread: the body's own URL is the only other one, and it is in the text.
    links = [url for post in posts for url in re.findall(r"https?://\S+", post)]
    assert links.count(LINK) == 1


def test_posts_break_after_sentences_not_inside_urls() -> None:
    posts = thread("bluesky", BODY, LINK, TAGS)
    for post in posts:
        body = NUMBER.sub("", _body_of(post))
        assert body.endswith((".", "…")), body
        assert "https://zukunft-industrie.example.org/termine" in body or "termine" not in body


def test_short_text_stays_one_unnumbered_post() -> None:
    assert thread("x", "Kurz und gut.", LINK, TAGS) == [
        f"Kurz und gut.\n\n{LINK}\n\n#WocheDerIndustrie #ZukunftDerIndustrie"
    ]


def test_thread_longer_than_allowed_ends_with_an_ellipsis() -> None:
    posts = thread("x", BODY * 3, LINK, TAGS, max_posts=3)
    assert len(posts) == 3
    assert _body_of(posts[-1]).endswith("… (3/3)")
    assert all(length("x", post) <= 280 for post in posts)


def test_numbering_width_grows_with_ten_or_more_posts() -> None:
    posts = thread("x", BODY * 4, LINK, [], limit=120, max_posts=40)
    assert len(posts) >= 10
    assert _body_of(posts[0]).endswith(f"(1/{len(posts)})")
    assert all(length("x", post) <= 120 for post in posts)
