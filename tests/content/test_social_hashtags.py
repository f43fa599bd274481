"""Hashtags per platform: the deliverable's first, then the initiative's, from the one list."""

from __future__ import annotations

import pytest

from campaigns.schema import Hashtag, Interests
from campaigns.workspace import load_workspace
from content.social.extract import is_valid_hashtag
from content.social.hashtags import TAG_COUNTS, choose_hashtags, ranked_tags
from tests.services import EXAMPLE

CANONICAL = (
    Hashtag(tag="ZukunftDerIndustrie"),
    Hashtag(tag="Fachkräftesicherung"),
    Hashtag(tag="Wasserstoffhochlauf", matches=["Wasserstoff"]),
    Hashtag(tag="KIinDerProduktion", matches=["KI in der Produktion"]),
    Hashtag(tag="Chemie", matches=["Chempark"]),
    Hashtag(tag="Krefeld"),
    Hashtag(tag="Photonik"),
)
KREFELD = Interests(
    keywords={"Chempark": 3, "Wasserstoff": 1},
    topics=["Wasserstoffhochlauf", "KI in der Produktion"],
    regions=["Krefeld"],
)


def test_tags_match_keywords_topics_and_regions_by_weight() -> None:
    assert [tag.tag for tag in ranked_tags(CANONICAL, KREFELD)] == [
        "Chemie",  # keyword weight 3
        "Wasserstoffhochlauf",  # topic 1 + keyword 1 through "matches"
        "KIinDerProduktion",  # "KI in der Produktion" ignoring spaces and case
        "Krefeld",
    ]


def test_tags_whose_words_are_in_the_item_come_first() -> None:
    ranked = ranked_tags(CANONICAL, KREFELD, "Krefeld weist Industriefläche aus")
    assert ranked[0].tag == "Krefeld"


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("bluesky", ["ZukunftDerIndustrie", "Chemie"]),
        ("x", ["ZukunftDerIndustrie", "Chemie"]),
        ("mastodon", ["ZukunftDerIndustrie", "Chemie", "Wasserstoffhochlauf", "KIinDerProduktion"]),
        (
            "linkedin",
            [
                "ZukunftDerIndustrie",
                "Chemie",
                "Wasserstoffhochlauf",
                "KIinDerProduktion",
                "Krefeld",
            ],
        ),
    ],
)
def test_count_per_platform_follows_the_editorial_guide(platform: str, expected: list[str]) -> None:
    chosen = choose_hashtags(platform, ["ZukunftDerIndustrie"], CANONICAL, KREFELD)
    assert chosen == expected
    assert len(chosen) <= TAG_COUNTS[platform].maximum


def test_no_unrelated_tag_is_added_to_reach_the_minimum() -> None:
    chosen = choose_hashtags("linkedin", [], CANONICAL, Interests(topics=["Photonik"]))
    assert chosen == ["Photonik"]


def test_fixed_tags_are_not_repeated() -> None:
    assert choose_hashtags("x", ["Chemie"], CANONICAL, KREFELD) == ["Chemie", "Wasserstoffhochlauf"]


def test_every_example_initiative_gets_valid_tags_on_every_platform() -> None:
    workspace = load_workspace(EXAMPLE)
    assert workspace.hashtags
    for initiative in workspace.initiatives.values():
        for platform, count in TAG_COUNTS.items():
            chosen = choose_hashtags(
                platform, ["WocheDerIndustrie"], workspace.hashtags, initiative.interests
            )
            assert count.minimum <= len(chosen) <= count.maximum, (initiative.slug, platform)
            assert all(is_valid_hashtag(f"#{tag}") for tag in chosen)
