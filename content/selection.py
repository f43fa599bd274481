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

import math
import re
from collections import Counter
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from campaigns.schema import Interests

Floats = npt.NDArray[np.float64]
Indexes = npt.NDArray[np.intp]
Bools = npt.NDArray[np.bool_]

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


@dataclass(frozen=True)
class _Hits:
    """Where one term occurs: as sets (for the reasons) and as 0/1 vectors over the pool (for
    scoring: adding ``weight × vector`` to all candidates beats an indexed add; ``w × 1.0`` is
    ``w`` and ``x + 0.0`` is ``x``, so the sums stay the same bit for bit)."""

    title: frozenset[int]
    body: frozenset[int]  # in the body only, not in the title
    anywhere: frozenset[int]  # title, body or tag
    in_title: Floats
    in_body: Floats
    in_any: Floats


def _indexes(found: Iterable[int]) -> Indexes:
    return np.fromiter(sorted(found), dtype=np.intp)


def _mask(found: Iterable[int], size: int) -> Floats:
    mask = np.zeros(size, dtype=np.float64)
    mask[_indexes(found)] = 1.0
    return mask


_SEPARATOR = "\x00"


@dataclass(frozen=True)
class _Folded:
    """Folded texts joined by a separator no term contains: one search in C finds a term in all
    of them, instead of one ``in`` per text (94 terms × 5,000 items was most of a cold slot)."""

    texts: list[str]
    blob: str | None  # None when a text itself contains the separator: then text by text
    starts: Indexes

    @classmethod
    def of(cls, texts: list[str]) -> _Folded:
        blob = _SEPARATOR.join(texts)
        lengths = np.fromiter((len(text) + 1 for text in texts), dtype=np.intp, count=len(texts))
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.intp)
        clean = blob.count(_SEPARATOR) == max(len(texts) - 1, 0)
        return cls(texts, blob if clean else None, starts)

    def containing(self, key: str) -> frozenset[int]:
        """Indexes of the texts that contain ``key`` (as ``key in text`` would say)."""
        if self.blob is None or not key or _SEPARATOR in key:
            return frozenset(i for i, text in enumerate(self.texts) if key in text)
        # The match runs on to the text's end, so each text yields at most one match.
        pattern = re.escape(key) + f"[^{_SEPARATOR}]*"
        found = [match.start() for match in re.finditer(pattern, self.blob)]
        at = np.searchsorted(self.starts, np.array(found, dtype=np.intp), side="right") - 1
        return frozenset(at.tolist())


@dataclass
class CandidatePool:
    """Candidates with folded texts and remembered term matches (see the module docstring)."""

    candidates: tuple[Candidate, ...]
    _titles: _Folded = field(init=False, repr=False)
    _bodies: _Folded = field(init=False, repr=False)
    _by_tag: dict[str, list[int]] = field(init=False, repr=False)
    _by_feed: dict[str, list[int]] = field(init=False, repr=False)
    # Each candidate's only feed as an index into ``_feed_names`` (sorted), -1 for none or
    # several; candidates with several feeds are the few in ``_several``.
    _feed_names: list[str] = field(init=False, repr=False)
    _only_feed: Indexes = field(init=False, repr=False)
    _several: dict[int, tuple[str, ...]] = field(init=False, repr=False)
    _terms: dict[str, _Hits] = field(init=False, repr=False)
    _decay: dict[tuple[datetime, timedelta, timedelta], Floats] = field(init=False, repr=False)
    # Tie-break rank: newest first, then URL, so the order never depends on storage order.
    rank: Indexes = field(init=False, repr=False)
    stories: dict[str, list[int]] = field(init=False, repr=False)
    last_totals: tuple[Interests, Floats] | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        self._titles = _Folded.of([c.title.casefold() for c in self.candidates])
        self._bodies = _Folded.of([c.summary.casefold() for c in self.candidates])
        self._by_tag = {}
        for index, candidate in enumerate(self.candidates):
            for tag in {t.casefold() for t in candidate.tags}:
                self._by_tag.setdefault(tag, []).append(index)
        self._by_feed = {}
        self.stories = {}
        self._several = {}
        for index, candidate in enumerate(self.candidates):
            feeds = tuple(dict.fromkeys(candidate.feeds))
            for feed in feeds:
                self._by_feed.setdefault(feed, []).append(index)
            if len(feeds) > 1:
                self._several[index] = feeds
            self.stories.setdefault(candidate.story, []).append(index)
        self._feed_names = sorted(self._by_feed)
        position = {name: n for n, name in enumerate(self._feed_names)}
        self._only_feed = np.full(len(self.candidates), -1, dtype=np.intp)
        for index, candidate in enumerate(self.candidates):
            if candidate.feeds and index not in self._several:
                self._only_feed[index] = position[candidate.feeds[0]]
        order = sorted(
            range(len(self.candidates)),
            key=lambda i: (-self.candidates[i].published.timestamp(), self.candidates[i].url),
        )
        self.rank = np.empty(len(order), dtype=np.intp)
        self.rank[order] = np.arange(len(order), dtype=np.intp)
        self._terms = {}
        self._decay = {}

    def __len__(self) -> int:
        return len(self.candidates)

    def _hits(self, term: str) -> _Hits:
        key = term.casefold()
        found = self._terms.get(key)
        if found is None:
            title = self._titles.containing(key)
            body = self._bodies.containing(key) - title
            tags = frozenset(self._by_tag.get(key, ()))
            anywhere = title | body | tags
            size = len(self.candidates)
            found = self._terms[key] = _Hits(
                title,
                body,
                anywhere,
                _mask(title, size),
                _mask(body, size),
                _mask(anywhere, size),
            )
        return found

    def hits(self, term: str) -> tuple[frozenset[int], frozenset[int], frozenset[int]]:
        """Indexes mentioning ``term``: in the title; in the body only; anywhere or as a tag."""
        found = self._hits(term)
        return found.title, found.body, found.anywhere

    def from_feeds(self, feeds: Iterable[str]) -> dict[int, str]:
        """Index → the first of ``feeds`` that carried the candidate."""
        found: dict[int, str] = {}
        for feed in feeds:
            for index in self._by_feed.get(feed, ()):
                found.setdefault(index, feed)
        return found

    def carried_by(self, feeds: Container[str]) -> Bools:
        """Which candidates any of ``feeds`` carried: one look-up per feed, not per item."""
        wanted = np.fromiter(
            map(feeds.__contains__, self._feed_names), dtype=bool, count=len(self._feed_names)
        )
        wanted = np.append(wanted, False)  # index -1: no feed, or several (below)
        mask: Bools = wanted[self._only_feed]
        for index, names in self._several.items():
            mask[index] = any(name in feeds for name in names)
        return mask

    def first_feed(self, index: int, feeds: Container[str]) -> str:
        """The alphabetically first of ``feeds`` that carried candidate ``index``."""
        return min(name for name in self.candidates[index].feeds if name in feeds)

    def decay(self, now: datetime, lookback: timedelta, half_life: timedelta) -> Floats:
        """Each candidate's recency factor at ``now``; zero outside ``(now - lookback, now]``."""
        key = (now, lookback, half_life)
        found = self._decay.get(key)
        if found is None:
            found = self._decay[key] = np.array(
                [
                    _factor(c.published, now, half_life) if _in_window(c, now, lookback) else 0.0
                    for c in self.candidates
                ],
                dtype=np.float64,
            )
        return found


_last_pool: CandidatePool | None = None


def forget_pool() -> None:
    """Drop the remembered pool (see :mod:`content.caches`)."""
    global _last_pool
    _last_pool = None


def pool_of(candidates: Iterable[Candidate] | CandidatePool) -> CandidatePool:
    """The pool for ``candidates``; the same tuple again reuses the last pool built.

    One slot passes one tuple to every initiative and variant; remembering only the last pool
    keeps that sharing without holding on to old slots' items. Equal candidates loaded afresh
    (each assembly reads the slot's items again) reuse it too: comparing is far cheaper than
    folding every text and finding every term again.
    """
    global _last_pool
    if isinstance(candidates, CandidatePool):
        return candidates
    last = _last_pool
    if last is not None and (last.candidates is candidates or last.candidates == candidates):
        return last
    pool = CandidatePool(tuple(candidates))
    if isinstance(candidates, tuple):
        _last_pool = pool
    return pool


def _totals(pool: CandidatePool, interests: Interests) -> Floats:
    """Undecayed relevance of each candidate: keyword weights (titles double), topics, regions.

    Added term by term in the interests' order, as plain floats would be: the same sums, bit
    for bit, only over whole arrays. The issue and its network section score the same
    interests, so the pool keeps the last result (read-only: callers copy before adding).
    """
    last = pool.last_totals
    if last is not None and last[0] is interests:
        return last[1]
    totals = np.zeros(len(pool), dtype=np.float64)
    for word, weight in interests.keywords.items():
        found = pool._hits(word)
        totals += found.in_title * (weight * TITLE_FACTOR)
        totals += found.in_body * weight
    for terms, weight in ((interests.topics, TOPIC_WEIGHT), (interests.regions, REGION_WEIGHT)):
        for term in terms:
            totals += pool._hits(term).in_any * weight
    totals.flags.writeable = False
    pool.last_totals = (interests, totals)
    return totals


def _matched(
    pool: CandidatePool, index: int, interests: Interests, own_feeds: Iterable[str]
) -> list[str]:
    """What of ``interests`` candidate ``index`` matched, in the order the interests list it."""
    labels = []
    for word in interests.keywords:
        found = pool._hits(word)
        if index in found.title:
            labels.append(f"keyword {word} (title)")
        elif index in found.body:
            labels.append(f"keyword {word}")
    for label, terms in (("topic", interests.topics), ("region", interests.regions)):
        labels.extend(f"{label} {term}" for term in terms if index in pool._hits(term).anywhere)
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
    total = float(_totals(pool, interests)[0])
    if own_feeds.intersection(candidate.feeds):
        total += OWN_FEED_BONUS
    if total == 0:
        return Choice(candidate, 0.0, ())
    value = round(total * _factor(candidate.published, now, half_life), 4)
    return Choice(candidate, value, tuple(_matched(pool, 0, interests, own_feeds)))


def _ranked(pool: CandidatePool, scores: Floats, positive: Indexes, limit: int) -> Indexes:
    """The head of the ranking, best first (score, then tie-break rank): at least ``limit``
    items, more only where scores tie at the cut, so the order is the full sort's prefix."""
    if limit < len(positive):
        values = scores[positive]
        cut = np.partition(values, len(values) - limit)[len(values) - limit]
        positive = positive[values >= cut]
    order = np.lexsort((pool.rank[positive], -scores[positive]))
    ranked: Indexes = positive[order]
    return ranked


def _pick(
    pool: CandidatePool,
    scores: Floats,
    *,
    max_items: int,
    per_source_cap: int,
    exclude: frozenset[str],
    source: Callable[[int], str],
) -> list[int]:
    """Best first: one item per story, at most ``per_source_cap`` per source.

    Only the head of the ranking is sorted; the whole only when caps and clusters ate the head.
    """
    positive: Indexes = np.flatnonzero(scores > 0)
    limit = max_items * 4 + 8
    while True:
        ranked = _ranked(pool, scores, positive, limit)
        taken: set[str] = set(exclude)
        per_source: Counter[str] = Counter()
        chosen: list[int] = []
        for index in ranked.tolist():
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


def _similar(pool: CandidatePool, index: int, scores: Floats) -> int:
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
    totals = _totals(pool, interests).copy()
    totals[_indexes(pool.from_feeds(own))] += OWN_FEED_BONUS
    scores = totals * pool.decay(now, lookback, half_life)
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
            round(float(scores[index]), 4),
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
    partner = pool.carried_by(partner_feeds)
    totals = _totals(pool, interests)
    decay = pool.decay(now, lookback, half_life)
    scores = np.where(partner, (totals + NETWORK_BASE) * decay, 0.0)

    def origin(index: int) -> str:
        return pool.first_feed(index, partner_feeds)

    # One per partner: the partner's feed is the source the cap counts.
    chosen = _pick(
        pool,
        scores,
        max_items=max_items,
        per_source_cap=1,
        exclude=frozenset(exclude),
        source=origin,
    )
    choices = []
    for index in chosen:
        feed = origin(index)
        label = f"network: {partner_feeds[feed]} (feed {feed})"
        choices.append(
            Choice(
                replace(pool.candidates[index], feeds=(feed,)),
                round(float(scores[index]), 4),
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
