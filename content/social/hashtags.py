"""Which hashtags a post carries: the deliverable's own, then the initiative's, per platform.

Every tag comes from the workspace's one canonical list (``hashtags.yaml``), so a region never
invents a spelling of its own and a campaign's tags add up across the network. How many a post
carries follows the platforms' habits (EDITORIAL §3): hashtags are discovery on Mastodon, noise
beyond one or two on X and Bluesky, and expected in threes to fives on LinkedIn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

import regex

from campaigns.schema import Hashtag, Interests


@dataclass(frozen=True)
class TagCount:
    minimum: int
    maximum: int


TAG_COUNTS: Final[Mapping[str, TagCount]] = MappingProxyType(
    {
        "bluesky": TagCount(1, 2),
        "x": TagCount(1, 2),
        "mastodon": TagCount(2, 4),
        "linkedin": TagCount(3, 5),
    }
)


_SEPARATORS = regex.compile(r"[\s\-_#]+")


def _key(term: str) -> str:
    """Compare "KI in der Produktion", "KI-in-der-Produktion" and "KIinDerProduktion" alike."""
    return str(_SEPARATORS.sub("", term)).casefold()


@dataclass(frozen=True)
class RankedTag:
    tag: str
    weight: float
    in_text: bool
    position: int


def ranked_tags(
    canonical: Sequence[Hashtag], interests: Interests, text: str = ""
) -> list[RankedTag]:
    """The canonical tags that match the initiative's interests, most fitting first.

    A tag matches when the tag itself or one of its ``matches`` is an interest keyword (by its
    weight), a topic or a region (weight 1 each). Tags whose words occur in ``text`` (the
    post's item) come first, then by weight, then in the order of the canonical list.
    """
    weights: dict[str, float] = {}
    for keyword, weight in interests.keywords.items():
        weights[_key(keyword)] = max(weights.get(_key(keyword), 0.0), weight)
    for term in (*interests.topics, *interests.regions):
        weights[_key(term)] = max(weights.get(_key(term), 0.0), 1.0)
    folded_text = _key(text)
    ranked = []
    for position, entry in enumerate(canonical):
        keys = {_key(term) for term in (entry.tag, *entry.matches)} - {""}
        weight = sum(weights.get(key, 0.0) for key in keys)
        if weight <= 0:
            continue
        in_text = any(key in folded_text for key in keys)
        ranked.append(RankedTag(entry.tag, weight, in_text, position))
    ranked.sort(key=lambda tag: (not tag.in_text, -tag.weight, tag.position))
    return ranked


def choose_hashtags(
    platform: str,
    fixed: Sequence[str],
    canonical: Sequence[Hashtag],
    interests: Interests,
    text: str = "",
) -> list[str]:
    """The tags for one post on ``platform``: fixed ones first, topped up from the interests.

    Fixed tags are the deliverable's (the campaign's own tag belongs on every post) and are
    cut to the platform's maximum like the rest; fewer than the minimum is allowed when the
    list has nothing more that fits the initiative, since an unrelated tag is worse than none.
    """
    count = TAG_COUNTS[platform]
    chosen: list[str] = []
    for tag in [*fixed, *(ranked.tag for ranked in ranked_tags(canonical, interests, text))]:
        if tag not in chosen:
            chosen.append(tag)
    return chosen[: count.maximum]
