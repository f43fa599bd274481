"""Which items an initiative gets, in which order, and why.

Pure scoring over plain data: an item earns the weights of the initiative's keywords it mentions
(double in the title), a bonus for its topics and regions and for coming from the initiative's own
feeds, decays with age, and no single source may fill more than a set share of an issue. Every
choice keeps the reason, which the manifest shows so a reviewer can see why an item is there.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from campaigns.schema import Interests

TITLE_FACTOR = 2.0
TOPIC_WEIGHT = 1.0
REGION_WEIGHT = 1.5
OWN_FEED_BONUS = 2.0
HALF_LIFE = timedelta(days=4)
MAX_SOURCE_SHARE = 0.5


@dataclass(frozen=True)
class Candidate:
    item_id: str
    title: str
    summary: str
    url: str
    published: datetime
    feeds: tuple[str, ...]
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Choice:
    candidate: Candidate
    score: float
    matched: tuple[str, ...]

    @property
    def reason(self) -> str:
        return f"matched {', '.join(self.matched)}; score {self.score:.2f}"


def _mentions(text: str, word: str) -> bool:
    return word.casefold() in text


def score(
    candidate: Candidate, interests: Interests, own_feeds: frozenset[str], now: datetime
) -> Choice:
    """Relevance to one initiative at ``now``; zero when nothing of its interests matched."""
    title = candidate.title.casefold()
    body = candidate.summary.casefold()
    tags = {tag.casefold() for tag in candidate.tags}
    total = 0.0
    matched: list[str] = []
    for word, weight in interests.keywords.items():
        if _mentions(title, word):
            total += weight * TITLE_FACTOR
            matched.append(f"keyword {word} (title)")
        elif _mentions(body, word):
            total += weight
            matched.append(f"keyword {word}")
    for topic in interests.topics:
        if topic.casefold() in tags or _mentions(title, topic) or _mentions(body, topic):
            total += TOPIC_WEIGHT
            matched.append(f"topic {topic}")
    for region in interests.regions:
        if region.casefold() in tags or _mentions(title, region) or _mentions(body, region):
            total += REGION_WEIGHT
            matched.append(f"region {region}")
    own = own_feeds.intersection(candidate.feeds)
    if own:
        total += OWN_FEED_BONUS
        matched.append(f"own feed {sorted(own)[0]}")
    if total == 0:
        return Choice(candidate, 0.0, ())
    age = max(now - candidate.published, timedelta(0))
    decay = math.pow(0.5, age / HALF_LIFE)
    return Choice(candidate, round(total * decay, 4), tuple(matched))


def select(
    candidates: Iterable[Candidate],
    interests: Interests,
    own_feeds: Iterable[str],
    *,
    now: datetime,
    lookback: timedelta,
    max_items: int,
    max_source_share: float = MAX_SOURCE_SHARE,
) -> list[Choice]:
    """The best items published in ``(now - lookback, now]``, best first, within the share cap.

    Ties break on recency, then URL, so the order never depends on storage order.
    """
    own = frozenset(own_feeds)
    window_start = now - lookback
    scored = [
        score(candidate, interests, own, now)
        for candidate in candidates
        if window_start < candidate.published <= now
    ]
    ranked = sorted(
        (choice for choice in scored if choice.score > 0),
        key=lambda c: (-c.score, -c.candidate.published.timestamp(), c.candidate.url),
    )
    per_source_cap = max(1, math.floor(max_items * max_source_share))
    per_source: Counter[str] = Counter()
    chosen: list[Choice] = []
    for choice in ranked:
        source = choice.candidate.feeds[0] if choice.candidate.feeds else ""
        if per_source[source] >= per_source_cap:
            continue
        per_source[source] += 1
        chosen.append(choice)
        if len(chosen) == max_items:
            break
    return chosen
