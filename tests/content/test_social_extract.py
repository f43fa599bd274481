"""Hashtags and links we emit are ones X and Mastodon make clickable, per twitter-text's rules.

The conformance file's validity cases for hashtags and URLs are applied where they bear on what
we generate: our hashtag check must agree with every hashtag case, and our link check must reject
every invalid URL case and accept every valid one that the extractor links.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from content.social.extract import extract_hashtags, is_linkified, is_valid_hashtag
from tests.services import EXAMPLE

VALIDATE_YML = Path(__file__).resolve().parents[3] / "shared/conformance/twitter-text/validate.yml"

# Valid URLs that twitter-text's extractor (which X and Mastodon run on posts) does not link:
# user info and IP literals are never extracted, and "+" is not a URL ending character. We
# refuse to emit these as a post's link, since they would not be clickable.
NOT_LINKED_THOUGH_VALID = {
    "http://user:PASSW0RD@example.com:8080/login.php",
    "http://192.168.0.1/index.html?src=asdf",
    "http://[3ffe:1900:4545:3:200:f8ff:fe21:67cf]:80/index.html",
    "http://example.com?foo=$bar.;baz?BAZ&c=d-#top/?stories+",
}


def _section(name: str) -> list[Any]:
    """One param per case; an unreadable suite fails (never skips)."""
    try:
        cases = yaml.safe_load(VALIDATE_YML.read_text(encoding="utf-8"))["tests"][name]
        if not cases:
            raise ValueError(f"section {name} is empty")
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as error:
        return [pytest.param(f"cannot load {VALIDATE_YML}: {error}", id="suite-unavailable")]
    return [pytest.param(case, id=case["description"]) for case in cases]


@pytest.mark.parametrize("case", _section("hashtags"))
def test_hashtag_validity_matches_twitter_text_conformance(case: dict[str, Any] | str) -> None:
    if isinstance(case, str):
        pytest.fail(case)
    assert is_valid_hashtag(case["text"]) is case["expected"]


@pytest.mark.parametrize("case", _section("urls"))
def test_link_check_agrees_with_twitter_text_url_conformance(case: dict[str, Any] | str) -> None:
    if isinstance(case, str):
        pytest.fail(case)
    if not case["expected"] or case["text"] in NOT_LINKED_THOUGH_VALID:
        assert not is_linkified(case["text"])
    else:
        assert is_linkified(case["text"])


def test_the_documented_exceptions_are_all_still_in_the_suite() -> None:
    texts = {case["text"] for case in yaml.safe_load(VALIDATE_YML.read_text())["tests"]["urls"]}
    assert texts >= NOT_LINKED_THOUGH_VALID


@pytest.mark.parametrize("case", _section("urls_without_protocol"))
def test_links_need_a_protocol_to_count_as_our_link(case: dict[str, Any] | str) -> None:
    """Bare domains are linked by X, but the link we post always carries https://."""
    if isinstance(case, str):
        pytest.fail(case)
    assert not is_linkified(case["text"])
    assert is_linkified("https://" + case["text"])


def test_every_canonical_hashtag_of_the_example_is_one_whole_hashtag() -> None:
    tags = [
        entry["tag"]
        for entry in yaml.safe_load((EXAMPLE / "hashtags.yaml").read_text())["hashtags"]
    ]
    assert len(tags) >= 10
    for tag in tags:
        assert is_valid_hashtag(f"#{tag}"), tag
    line = " ".join(f"#{tag}" for tag in tags)
    assert [found.value for found in extract_hashtags(line)] == tags


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#Fachkräftesicherung", ["Fachkräftesicherung"]),
        ("Mehr: https://example.org/seite#Abschnitt", []),
        ("#2026 #KI2026", ["KI2026"]),
        ("#Tag://x #Tag#", []),
        ("Das ist #Thüringen.", ["Thüringen"]),
    ],
)
def test_hashtag_extraction_follows_twitter_text(text: str, expected: list[str]) -> None:
    assert [found.value for found in extract_hashtags(text)] == expected
