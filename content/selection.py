"""Which items an initiative gets, in which order, and why.

Pure scoring over plain data: an item earns the weights of the initiative's keywords it mentions
(double in the title), a bonus for its topics and regions and for coming from the initiative's own
feeds, decays with age (a half-life), and no single source may fill more than a set share of an
issue. Near-duplicates (one story in several outlets, one ``cluster``) count once: the best of
them stands for all. Every choice keeps the reason, which the manifest shows so a reviewer can see
why an item is there.

Scoring goes through a :class:`CandidatePool`, which folds each text once and remembers which
items mention a term: a slot scores the same items for every initiative and audience variant,
and a term shared by many initiatives („Wasserstoff“) is looked up once, not once per reader.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from campaigns.schema import Interests

TITLE_FACTOR = 2.0
TOPIC_WEIGHT = 1.0
REGION_WEIGHT = 1.5
OWN_FEED_BONUS = 2.0
# A partner's item earns this even when nothing of the reader's interests matched: the network
# section is about learning from each other, not only about one's own keywords.
NETWORK_BASE = 1.0
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
    # Near-duplicate cluster: items telling the same story share it; None means its own story.
    cluster: str | None = None

    @property
    def story(self) -> str:
        """The key under which near-duplicates count once."""
        return self.cluster or self.item_id

    @property
    def source(self) -> str:
        return self.feeds[0] if self.feeds else ""


@dataclass(frozen=True)
class Choice:
    candidate: Candidate
    score: float
    matched: tuple[str, ...]
    similar: int = 0  # near-duplicates this choice stands for

    @property
    def reason(self) -> str:
        reason = f"matched {', '.join(self.matched)}; score {self.score:.2f}"
        if self.similar:
            noun = "report" if self.similar == 1 else "reports"
            reason += f"; {self.similar} similar {noun} counted once"
        return reason


def combine(base: Interests, extra: Interests) -> Interests:
    """An audience's interests on top of the initiative's: weights add up, lists merge."""
    keywords = dict(base.keywords)
    for word, weight in extra.keywords.items():
        keywords[word] = keywords.get(word, 0.0) + weight
    return Interests(
        keywords=keywords,
        topics=list(dict.fromkeys([*base.topics, *extra.topics])),
        regions=list(dict.fromkeys([*base.regions, *extra.regions])),
    )


@dataclass
class CandidatePool:
    """Candidates with folded texts and remembered term matches (see the module docstring)."""

    candidates: tuple[Candidate, ...]
    _titles: list[str] = field(init=False, repr=False)
    _bodies: list[str] = field(init=False, repr=False)
    _tags: list[frozenset[str]] = field(init=False, repr=False)
    _by_feed: dict[str, list[int]] = field(init=False, repr=False)
    _terms: dict[str, tuple[frozenset[int], frozenset[int], frozenset[int]]] = field(
        init=False, repr=False
    )
    _decay: dict[tuple[datetime, timedelta, timedelta], list[float]] = field(init=False, repr=False)
    # Tie-break rank: newest first, then URL, so the order never depends on storage order.
    rank: list[int] = field(init=False, repr=False)
    stories: dict[str, list[int]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._titles = [c.title.casefold() for c in self.candidates]
        self._bodies = [c.summary.casefold() for c in self.candidates]
        self._tags = [frozenset(t.casefold() for t in c.tags) for c in self.candidates]
        self._by_feed = {}
        self.stories = {}
        for index, candidate in enumerate(self.candidates):
            for feed in dict.fromkeys(candidate.feeds):
                self._by_feed.setdefault(feed, []).append(index)
            self.stories.setdefault(candidate.story, []).append(index)
        order = sorted(
            range(len(self.candidates)),
            key=lambda i: (-self.candidates[i].published.timestamp(), self.candidates[i].url),
        )
        self.rank = [0] * len(order)
        for position, index in enumerate(order):
            self.rank[index] = position
        self._terms = {}
        self._decay = {}

    def __len__(self) -> int:
        return len(self.candidates)

    def hits(self, term: str) -> tuple[frozenset[int], frozenset[int], frozenset[int]]:
        """Indexes mentioning ``term``: in the title; in the body only; anywhere or as a tag."""
        key = term.casefold()
        found = self._terms.get(key)
        if found is None:
            title = frozenset(i for i, text in enumerate(self._titles) if key in text)
            body = frozenset(i for i, text in enumerate(self._bodies) if key in text)
            tags = frozenset(i for i, tags in enumerate(self._tags) if key in tags)
            found = self._terms[key] = (title, body - title, title | body | tags)
        return found

    def from_feeds(self, feeds: Iterable[str]) -> dict[int, str]:
        """Index → the first of ``feeds`` that carried the candidate."""
        found: dict[int, str] = {}
        for feed in feeds:
            for index in self._by_feed.get(feed, ()):
                found.setdefault(index, feed)
        return found

    def decay(self, now: datetime, lookback: timedelta, half_life: timedelta) -> list[float]:
        """Each candidate's recency factor at ``now``; zero outside ``(now - lookback, now]``."""
        key = (now, lookback, half_life)
        found = self._decay.get(key)
        if found is None:
            found = self._decay[key] = [
                _factor(c.published, now, half_life) if _in_window(c, now, lookback) else 0.0
                for c in self.candidates
            ]
        return found


_last_pool: CandidatePool | None = None


def pool_of(candidates: Iterable[Candidate] | CandidatePool) -> CandidatePool:
    """The pool for ``candidates``; the same tuple again reuses the last pool built.

    One slot passes one tuple to every initiative and variant; remembering only the last pool
    keeps that sharing without holding on to old slots' items.
    """
    global _last_pool
    if isinstance(candidates, CandidatePool):
        return candidates
    last = _last_pool
    if last is not None and last.candidates is candidates:
        return last
    pool = CandidatePool(tuple(candidates))
    if isinstance(candidates, tuple):
        _last_pool = pool
    return pool


def _totals(pool: CandidatePool, interests: Interests) -> list[float]:
    """Undecayed relevance of each candidate: keyword weights (titles double), topics, regions."""
    totals = [0.0] * len(pool)
    for word, weight in interests.keywords.items():
        title, body, _ = pool.hits(word)
        double = weight * TITLE_FACTOR
        for index in title:
            totals[index] += double
        for index in body:
            totals[index] += weight
    for terms, weight in ((interests.topics, TOPIC_WEIGHT), (interests.regions, REGION_WEIGHT)):
        for term in terms:
            for index in pool.hits(term)[2]:
                totals[index] += weight
    return totals


def _matched(
    pool: CandidatePool, index: int, interests: Interests, own_feeds: Iterable[str]
) -> list[str]:
    """What of ``interests`` candidate ``index`` matched, in the order the interests list it."""
    labels = []
    for word in interests.keywords:
        title, body, _ = pool.hits(word)
        if index in title:
            labels.append(f"keyword {word} (title)")
        elif index in body:
            labels.append(f"keyword {word}")
    for label, terms in (("topic", interests.topics), ("region", interests.regions)):
        labels.extend(f"{label} {term}" for term in terms if index in pool.hits(term)[2])
    own = pool.from_feeds(sorted(own_feeds)).get(index)
    if own is not None:
        labels.append(f"own feed {own}")
    return labels


def _factor(published: datetime, now: datetime, half_life: timedelta) -> float:
    age = max(now - published, timedelta(0))
    return math.pow(0.5, age / half_life)


def _in_window(candidate: Candidate, now: datetime, lookback: timedelta) -> bool:
    return now - lookback < candidate.published <= now


def score(
    candidate: Candidate,
    interests: Interests,
    own_feeds: frozenset[str],
    now: datetime,
    half_life: timedelta = HALF_LIFE,
) -> Choice:
    """Relevance to one initiative at ``now``; zero when nothing of its interests matched."""
    pool = CandidatePool((candidate,))
    total = _totals(pool, interests)[0]
    if own_feeds.intersection(candidate.feeds):
        total += OWN_FEED_BONUS
    if total == 0:
        return Choice(candidate, 0.0, ())
    value = round(total * _factor(candidate.published, now, half_life), 4)
    return Choice(candidate, value, tuple(_matched(pool, 0, interests, own_feeds)))


def _pick(
    pool: CandidatePool,
    scores: list[float],
    *,
    max_items: int,
    per_source_cap: int,
    exclude: frozenset[str],
    source: Callable[[int], str],
) -> list[int]:
    """Best first: one item per story, at most ``per_source_cap`` per source.

    Only the head of the ranking is sorted; the whole only when caps and clusters ate the head.
    """
    positive = [i for i, value in enumerate(scores) if value > 0]

    def key(index: int) -> tuple[float, int]:
        return (scores[index], -pool.rank[index])

    limit = max_items * 4 + 8
    while True:
        if limit >= len(positive):
            ranked = sorted(positive, key=key, reverse=True)
        else:
            ranked = heapq.nlargest(limit, positive, key=key)
        taken: set[str] = set(exclude)
        per_source: Counter[str] = Counter()
        chosen: list[int] = []
        for index in ranked:
            if len(chosen) == max_items:
                break
            story, origin = pool.candidates[index].story, source(index)
            if story in taken or per_source[origin] >= per_source_cap:
                continue
            taken.add(story)
            per_source[origin] += 1
            chosen.append(index)
        if len(chosen) == max_items or len(ranked) == len(positive):
            return chosen
        limit *= 4


def _similar(pool: CandidatePool, index: int, scores: list[float]) -> int:
    """How many other scored items tell the same story."""
    story = pool.candidates[index].story
    return sum(1 for other in pool.stories[story] if other != index and scores[other] > 0)


def select(
    candidates: Iterable[Candidate] | CandidatePool,
    interests: Interests,
    own_feeds: Iterable[str],
    *,
    now: datetime,
    lookback: timedelta,
    max_items: int,
    max_source_share: float = MAX_SOURCE_SHARE,
    half_life: timedelta = HALF_LIFE,
    exclude: Iterable[str] = (),
) -> list[Choice]:
    """The best items published in ``(now - lookback, now]``, best first, within the share cap.

    A near-duplicate cluster yields its best item only; stories in ``exclude`` are left out.
    Ties break on recency, then URL, so the order never depends on storage order.
    """
    pool = pool_of(candidates)
    own = sorted(frozenset(own_feeds))
    totals = _totals(pool, interests)
    for index in pool.from_feeds(own):
        totals[index] += OWN_FEED_BONUS
    decay = pool.decay(now, lookback, half_life)
    scores = [total * factor for total, factor in zip(totals, decay, strict=True)]
    per_source_cap = max(1, math.floor(max_items * max_source_share))
    chosen = _pick(
        pool,
        scores,
        max_items=max_items,
        per_source_cap=per_source_cap,
        exclude=frozenset(exclude),
        source=lambda index: pool.candidates[index].source,
    )
    return [
        Choice(
            pool.candidates[index],
            round(scores[index], 4),
            tuple(_matched(pool, index, interests, own)),
            _similar(pool, index, scores),
        )
        for index in chosen
    ]


def select_network(
    candidates: Iterable[Candidate] | CandidatePool,
    interests: Interests,
    partner_feeds: Mapping[str, str],
    *,
    now: datetime,
    lookback: timedelta,
    max_items: int,
    half_life: timedelta = HALF_LIFE,
    exclude: Iterable[str] = (),
) -> list[Choice]:
    """The best items of partners' feeds (feed id → partner name), at most one per partner.

    Every partner item qualifies; the reader's interests rank them. Stories already in the issue
    (``exclude``) are not repeated.
    """
    pool = pool_of(candidates)
    origin = pool.from_feeds(sorted(partner_feeds))
    totals = _totals(pool, interests)
    decay = pool.decay(now, lookback, half_life)
    scores = [0.0] * len(pool)
    for index in origin:
        scores[index] = (totals[index] + NETWORK_BASE) * decay[index]
    # One per partner: the partner's feed is the source the cap counts.
    chosen = _pick(
        pool,
        scores,
        max_items=max_items,
        per_source_cap=1,
        exclude=frozenset(exclude),
        source=origin.__getitem__,
    )
    choices = []
    for index in chosen:
        feed = origin[index]
        label = f"network: {partner_feeds[feed]} (feed {feed})"
        choices.append(
            Choice(
                replace(pool.candidates[index], feeds=(feed,)),
                round(scores[index], 4),
                (label, *_matched(pool, index, interests, ())),
                _similar(pool, index, scores),
            )
        )
    return choices


def section_of(candidate: Candidate, sections: Sequence[tuple[str, Sequence[str]]]) -> str | None:
    """The first section (title, topics) whose topics the item mentions (tag, title or text)."""
    tags = {tag.casefold() for tag in candidate.tags}
    text = f"{candidate.title}\n{candidate.summary}".casefold()
    for title, topics in sections:
        for topic in topics:
            folded = topic.casefold()
            if folded in tags or folded in text:
                return title
    return None
