"""Recognise the same story told by different outlets: near-duplicate detection for items.

Syndicated stories reach us under other URLs, with a reworded title and a shortened or
extended teaser, while the stories that merely look alike (the same monthly labour-market
report for another month, the same programme in another state, the regional events of one
campaign week) often share more wording than the true duplicates do. Two signals separate them:

* what the texts are about: the content-word stems of title and teaser (German stop words,
  web addresses, clock times and years dropped, umlauts folded, every word cut to its first
  five letters so ``Wasserstoffnetz`` and ``Wasserstoffnetzes`` agree), sorted and compared
  with rapidfuzz's ``token_sort_ratio``: an edit distance over the stems that forgives small
  differences inside words but, unlike a set overlap, counts what only one text says;
* the figures: a duplicate repeats the story's numbers (``20 Millionen``, ``1.300 Stellen``),
  a look-alike has its own. When both texts carry figures, their overlap is blended in.

The threshold was chosen on the tuning part of a labelled set of German item pairs shipped with
the tests (``tests/content/feeds/data/near_duplicates.yaml``) and is checked on a held-out part
there. Everything here is pure; :class:`NearDuplicateIndex` keeps recent items in memory and
finds candidates through an inverted index on stems, so a new item is scored against a handful
of candidates, not against every stored item.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain

from rapidfuzz import fuzz

# Chosen on the tuning part of the labelled set; see tests/content/feeds/test_dedupe.py.
THRESHOLD = 0.66
FIGURE_WEIGHT = 0.3
STEM_LETTERS = 5
# Only the lead counts: a full article attached to one copy would drown the shared facts.
LEAD_CHARS = 600
# Copies of one story appear within days of each other; look-alikes often months apart.
WINDOW = timedelta(days=3)

# A separator between a digit and three more: matched at the separator, then the digit before
# it is checked (a look-behind first would be tried at every character).
_THOUSANDS = re.compile(r"[.\s\u00a0\u202f](?<=\d[.\s\u00a0\u202f])(?=\d{3}(?!\d))")
# Web addresses, clock times and years say where to read more and when, not what happened:
# the stories of one campaign week share them all. They are read as tokens and then skipped.
_TOKEN = re.compile(
    r"(?:https?://)?(?:[\w-]+\.)+[a-z]{2,}(?:/\S*)?"  # a web address
    r"|\d{1,2}[:.]\d{2}"  # a clock time
    r"|\w+(?:,\d+)?"  # a word or a figure such as 5,1
)
_YEAR = re.compile(r"(?:19|20)\d\d")
# Most teasers hold no web address and no clock time: plain word splitting is then enough.
# Either shows a dot or colon followed by a letter or digit; that pair is rare in prose, so it
# is searched for first and the character before it checked after (see ``_may_hold_special``).
_SPECIAL_MIDDLE = re.compile(r"[.:][a-z\d]")
_WORD_CHAR = re.compile(r"\w")
_PLAIN_TOKEN = re.compile(r"\w+(?:,\d+)?")
# German function words (umlauts folded): they say nothing about which story a text tells.
_STOP_WORD_LIST = (
    "aber ab alle als am an auch auf aus bei beim bereits bis da dabei damit dann das dass "
    "dem den der des die dies diese diesem diesen dieser doch dort du durch ein eine einem "
    "einen einer eines er es etwa fuer gegen hat haben hatte heute hier ihr ihre ihrem "
    "ihren ihrer im in ins ist je jetzt kann koennen kuenftig man mehr mit nach nicht noch "
    "nun nur ob oder ohne pro rund schon sehr sei seien sein seine seinem seinen seiner "
    "seit sich sie sind so soll sollen sowie ueber um und unter vom von vor waren wegen "
    "weiter wenn werden wie will wir wird wollen wurde wurden zu zum zur zwischen"
)
_STOP_WORDS = frozenset(_STOP_WORD_LIST.split())


@dataclass(frozen=True)
class Fingerprint:
    """What a text is about (stems) and which figures it states, ready to compare."""

    stems: frozenset[str]
    figures: frozenset[str]
    joined: str = field(compare=False)


def fingerprint(title: str, summary_text: str) -> Fingerprint:
    """The fingerprint of an item from its title and plain-text teaser."""
    text = f"{title}\n{summary_text[:LEAD_CHARS]}".casefold()
    text = text.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    text = _THOUSANDS.sub("", text)
    tokens = _TOKEN.findall(text) if _may_hold_special(text) else _PLAIN_TOKEN.findall(text)
    # Two comprehensions instead of one loop with branches: this runs for every new item.
    figures = {
        token
        for token in tokens
        if token[0].isdigit() and ":" not in token and "." not in token
        if not _YEAR.fullmatch(token)
    }
    stems = {
        token[:STEM_LETTERS]
        for token in tokens
        if len(token) > 2 and not token[0].isdigit() and "." not in token
        if token not in _STOP_WORDS
    }
    stems |= figures
    return Fingerprint(frozenset(stems), frozenset(figures), " ".join(sorted(stems)))


def _may_hold_special(text: str) -> bool:
    """Whether ``text`` matches ``\\w\\.[a-z]`` (a web address) or ``\\d[:.]\\d`` (a clock time)."""
    for match in _SPECIAL_MIDDLE.finditer(text, 1):
        position = match.start()
        before, after = text[position - 1], text[position + 1]
        if text[position] == "." and "a" <= after <= "z" and _WORD_CHAR.match(before):
            return True
        if before.isdecimal() and after.isdecimal():  # what ``\\d`` matches
            return True
    return False


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    """How likely two fingerprints describe the same story, from 0 to 1."""
    if not a.stems or not b.stems:
        return 0.0
    score = fuzz.token_sort_ratio(a.joined, b.joined) / 100.0
    if a.figures and b.figures:
        agreement = len(a.figures & b.figures) / len(a.figures | b.figures)
        score = (1 - FIGURE_WEIGHT) * score + FIGURE_WEIGHT * agreement
    return score


@dataclass(frozen=True)
class Match:
    """The cluster a new item joins, through which item, with which score."""

    cluster_id: str
    item_id: str
    score: float


@dataclass
class _Entry:
    item_id: str
    cluster_id: str
    published: datetime
    fingerprint: Fingerprint


class NearDuplicateIndex:
    """Recent items, searchable for near-duplicates of a new one.

    Candidates share at least ``min_shared`` stems with the new item; stems that occur in more
    than ``common_share`` of the indexed items (``Industrie`` in an industry newsroom) are no
    evidence and are not followed. At most ``max_candidates`` candidates, those sharing the
    most stems, are scored.
    """

    def __init__(
        self,
        *,
        threshold: float = THRESHOLD,
        window: timedelta = WINDOW,
        min_shared: int = 3,
        max_candidates: int = 12,
        common_share: float = 0.05,
        common_floor: int = 50,
    ) -> None:
        self.threshold = threshold
        self.window = window
        self.min_shared = min_shared
        self.max_candidates = max_candidates
        self.common_share = common_share
        self.common_floor = common_floor
        self._entries: list[_Entry] = []
        self._postings: dict[str, list[int]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, item_id: str, cluster_id: str, published: datetime, print_: Fingerprint) -> None:
        position = len(self._entries)
        self._entries.append(_Entry(item_id, cluster_id, published, print_))
        for stem in print_.stems:
            self._postings.setdefault(stem, []).append(position)

    def match(self, print_: Fingerprint, published: datetime) -> Match | None:
        """The best near-duplicate published within the window, if it passes the threshold.

        Ties go to the item indexed first, so the outcome does not depend on set ordering.
        """
        limit = max(self.common_floor, int(len(self._entries) * self.common_share))
        postings = self._postings
        # One Counter over all followed postings at once, and only the best few candidates
        # ordered: this runs for every new item, against an index of thousands.
        shared: Counter[int] = Counter(
            chain.from_iterable(
                positions
                for positions in map(postings.get, print_.stems)
                if positions is not None and len(positions) <= limit
            )
        )
        least = self.min_shared
        candidates = heapq.nsmallest(
            self.max_candidates,
            [position for position, count in shared.items() if count >= least],
            key=lambda position: (-shared[position], position),
        )
        best: Match | None = None
        for position in candidates:
            entry = self._entries[position]
            if abs(entry.published - published) > self.window:
                continue
            score = similarity(print_, entry.fingerprint)
            if score >= self.threshold and (best is None or score > best.score):
                best = Match(entry.cluster_id, entry.item_id, score)
        return best
