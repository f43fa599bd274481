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

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rapidfuzz import fuzz

# Chosen on the tuning part of the labelled set; see tests/content/feeds/test_dedupe.py.
THRESHOLD = 0.66
FIGURE_WEIGHT = 0.3
STEM_LETTERS = 5
# Only the lead counts: a full article attached to one copy would drown the shared facts.
LEAD_CHARS = 600
# Copies of one story appear within days of each other; look-alikes often months apart.
WINDOW = timedelta(days=3)

_THOUSANDS = re.compile(r"(?<=\d)[.\s\u00a0\u202f](?=\d{3}(?!\d))")
# Web addresses, clock times and years say where to read more and when, not what happened:
# the stories of one campaign week share them all. They are read as tokens and then skipped.
_TOKEN = re.compile(
    r"(?:https?://)?(?:[\w-]+\.)+[a-z]{2,}(?:/\S*)?"  # a web address
    r"|\d{1,2}[:.]\d{2}"  # a clock time
    r"|\w+(?:,\d+)?"  # a word or a figure such as 5,1
)
_YEAR = re.compile(r"(?:19|20)\d\d")
# Most teasers hold no web address and no clock time: plain word splitting is then enough.
_SPECIAL = re.compile(r"\w\.[a-z]|\d[:.]\d")
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
    stems: set[str] = set()
    figures: set[str] = set()
    text = _THOUSANDS.sub("", text)
    tokens = _TOKEN.findall(text) if _SPECIAL.search(text) else _PLAIN_TOKEN.findall(text)
    for token in tokens:
        if token[0].isdigit():
            if ":" in token or "." in token or _YEAR.fullmatch(token):
                continue
            figures.add(token)
            stems.add(token)
        elif "." not in token and len(token) > 2 and token not in _STOP_WORDS:
            stems.add(token[:STEM_LETTERS])
    return Fingerprint(frozenset(stems), frozenset(figures), " ".join(sorted(stems)))


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
        shared: Counter[int] = Counter()
        for stem in print_.stems:
            positions = self._postings.get(stem)
            if positions is not None and len(positions) <= limit:
                shared.update(positions)
        candidates = sorted(
            (position for position, count in shared.items() if count >= self.min_shared),
            key=lambda position: (-shared[position], position),
        )
        best: Match | None = None
        for position in candidates[: self.max_candidates]:
            entry = self._entries[position]
            if abs(entry.published - published) > self.window:
                continue
            score = similarity(print_, entry.fingerprint)
            if score >= self.threshold and (best is None or score > best.score):
                best = Match(entry.cluster_id, entry.item_id, score)
        return best
