"""Per-platform length counting, checked against twitter-text's official conformance data.

The X counter is only trustworthy if it matches the reference suite case for case,
so a missing or emptied suite must fail the build rather than skip quietly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from content.social.counting import (
    LIMITS,
    bluesky_length,
    length,
    linkedin_length,
    mastodon_length,
    x_is_valid,
    x_length,
)

CONFORMANCE_DIR = Path(__file__).resolve().parents[3] / "shared/conformance/twitter-text"
VALIDATE_YML = CONFORMANCE_DIR / "validate.yml"
CONFIG_V3_JSON = CONFORMANCE_DIR / "config-v3.json"
# The v3 sections; "WeightedTweetsCounterTest" is v2 (no emoji discount) and differs on purpose.
V3_SECTIONS = (
    "WeightedTweetsWithDiscountedEmojiCounterTest",
    "UnicodeDirectionalMarkerCounterTest",
)


def _conformance_cases() -> list[Any]:
    """One param per v3 case; if the suite can't be read, one param that fails (not skips)."""
    try:
        tests = yaml.safe_load(VALIDATE_YML.read_text(encoding="utf-8"))["tests"]
        params = []
        for section in V3_SECTIONS:
            cases = tests[section]
            if not cases:
                raise ValueError(f"section {section} is empty")
            for index, case in enumerate(cases):
                case_id = f"{section}[{index}]: {case['description']}"
                params.append(pytest.param(case, id=case_id))
        return params
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as error:
        problem = f"cannot load {VALIDATE_YML}: {type(error).__name__}: {error}"
        return [pytest.param(problem, id="conformance-suite-unavailable")]


@pytest.mark.parametrize("case", _conformance_cases())
def test_x_length_matches_twitter_text_v3_conformance(case: dict[str, Any] | str) -> None:
    if isinstance(case, str):
        pytest.fail(case)
    expected = case["expected"]
    assert x_length(case["text"]) == expected["weightedLength"]
    assert x_is_valid(case["text"]) == expected["valid"]


def test_library_counts_with_the_published_v3_config() -> None:
    """Guards the pinned config: a library upgrade must not change weights under us."""
    from twitter_text.config import config

    published = json.loads(CONFIG_V3_JSON.read_text(encoding="utf-8"))
    bundled = config["version3"]
    assert bundled["version"] == published["version"] == 3
    assert bundled["max_weighted_tweet_length"] == published["maxWeightedTweetLength"]
    assert bundled["scale"] == published["scale"]
    assert bundled["default_weight"] == published["defaultWeight"]
    assert bundled["emoji_parsing_enabled"] == published["emojiParsingEnabled"]
    assert bundled["transformed_url_length"] == published["transformedURLLength"]
    assert bundled["ranges"] == published["ranges"]
    assert LIMITS["x"] == published["maxWeightedTweetLength"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Grüße aus Köln", 14),
        ("https://example.org/" + "a" * 200, 23),
        # The ellipsis lies outside the weight-1 ranges: it costs 2 on X.
        ("…", 2),
        ("👨‍👩‍👧‍👦", 2),
    ],
)
def test_x_length_examples(text: str, expected: int) -> None:
    assert x_length(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Grüße aus Köln", 14),
        ("Straße", 6),
        # Decomposed umlauts: u + COMBINING DIAERESIS is one grapheme, two code points.
        ("Gru\u0308ße", 5),
        ("A\u0308rger u\u0308ber O\u0308l", 13),
        # Stacked combining marks stay with their base letter.
        ("e\u0301\u0302\u0323", 1),
        # ZWJ sequences, modifiers, flags and tag sequences are single graphemes.
        ("👨‍👩‍👧‍👦", 1),
        ("👩🏽‍💻", 1),
        ("🏳️‍🌈", 1),
        ("👍🏽", 1),
        ("🇩🇪🇦🇹", 2),
        ("🏴󠁧󠁢󠁳󠁣󠁴󠁿", 1),
        ("Wir 👨‍👩‍👧‍👦 feiern!", 13),
        ("\r\n", 1),
        ("", 0),
    ],
)
def test_bluesky_counts_grapheme_clusters(text: str, expected: int) -> None:
    assert bluesky_length(text) == expected


def test_bluesky_family_emoji_is_one_grapheme_but_many_code_points() -> None:
    family = "👨‍👩‍👧‍👦"
    assert len(family) == 7
    assert bluesky_length(family * 300) == LIMITS["bluesky"] == 300


LONG_URL = "https://www.example.org/aktionen/2024/klimaschutz-im-quartier?utm_source=mastodon&x=1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (LONG_URL, 23),
        # Shorter than 23 still counts 23: Mastodon substitutes a fixed placeholder.
        ("https://x.co", 23),
        ("http://example.org", 23),
        ("Mehr dazu: " + LONG_URL, 11 + 23),
        # Trailing punctuation is not part of the URL.
        ("Siehe " + LONG_URL + ".", 6 + 23 + 1),
        ("(" + LONG_URL + ")", 1 + 23 + 1),
        ("Zwei Links: https://a.example.org/1 und https://b.example.org/2", 12 + 23 + 5 + 23),
        # Without a protocol Mastodon does not linkify, so the text counts in full.
        ("example.org/aktionen", 20),
        # Remote mentions count only "@user".
        ("@anna@chaos.social", 5),
        ("Danke @anna@chaos.social!", 6 + 5 + 1),
        ("@anna@chaos.social @bernd@norden.social", 5 + 1 + 6),
        ("@Anna_K@mastodon.example.org", 7),
        # Local mentions already are "@user".
        ("@anna", 5),
        # E-mail addresses are not mentions.
        ("kontakt@example.org", 19),
        # A profile URL stays one URL, not a URL plus a mention.
        ("https://chaos.social/@anna@chaos.social", 23),
        ("Grüße 👋", 7),
        ("👨‍👩‍👧‍👦", 7),
        ("", 0),
    ],
)
def test_mastodon_length(text: str, expected: int) -> None:
    assert mastodon_length(text) == expected


def test_linkedin_counts_code_points() -> None:
    assert linkedin_length("Grüße 👋") == 7
    assert linkedin_length(LONG_URL) == len(LONG_URL)


def test_length_dispatches_per_platform() -> None:
    text = "Grüße @anna@chaos.social " + LONG_URL + " 👨‍👩‍👧‍👦"
    assert length("x", text) == x_length(text)
    assert length("bluesky", text) == bluesky_length(text)
    assert length("mastodon", text) == mastodon_length(text)
    assert length("linkedin", text) == linkedin_length(text)
    assert set(LIMITS) == {"x", "bluesky", "mastodon", "linkedin"}


def test_length_rejects_unknown_platform() -> None:
    with pytest.raises(ValueError, match="unknown platform"):
        length("myspace", "Hallo")


def test_limits_are_read_only() -> None:
    with pytest.raises(TypeError):
        LIMITS["mastodon"] = 1000  # type: ignore[index]


def test_mastodon_url_weight_follows_the_instance() -> None:
    """Instances publish ``characters_reserved_per_url``; forks may set it other than 23."""
    text = "Mehr dazu: " + LONG_URL
    assert mastodon_length(text, url_length=30) == 11 + 30
    assert length("mastodon", text, url_length=30) == 11 + 30
    # Other platforms fix their own URL weight; the instance setting does not apply there.
    assert length("x", text, url_length=30) == x_length(text)
