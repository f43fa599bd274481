"""Near-duplicates: the threshold is tuned on one part of a labelled set, judged on the other.

The set (data/near_duplicates.yaml) holds hand-written German triples: a story, the same story
as another outlet rewrote it (a duplicate), and a look-alike about another event. Triples, not
pairs, are split, so no story is in both parts. Every third triple is held out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from campaigns.workspace import load_workspace
from config.db import session_scope
from content.feeds import dedupe
from content.feeds.clusters import clusters
from content.feeds.dedupe import NearDuplicateIndex, fingerprint, similarity
from content.ingest import ingest
from content.models import Item

DATA = Path(__file__).parent / "data" / "near_duplicates.yaml"
T0 = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Pair:
    score: float
    duplicate: bool


@cache
def triples() -> list[dict[str, dict[str, str]]]:
    with DATA.open(encoding="utf-8") as handle:
        loaded: list[dict[str, dict[str, str]]] = yaml.safe_load(handle)["triples"]
    return loaded


def pairs(held_out: bool) -> list[Pair]:
    scored: list[Pair] = []
    for position, triple in enumerate(triples()):
        if (position % 3 == 2) != held_out:
            continue
        prints = {k: fingerprint(v["title"], v["summary"]) for k, v in triple.items()}
        scored += [
            Pair(similarity(prints["story"], prints["duplicate"]), True),
            Pair(similarity(prints["story"], prints["lookalike"]), False),
            Pair(similarity(prints["duplicate"], prints["lookalike"]), False),
        ]
    return scored


def precision_recall(scored: list[Pair], threshold: float) -> tuple[float, float]:
    found = [pair for pair in scored if pair.score >= threshold]
    hits = sum(pair.duplicate for pair in found)
    precision = hits / len(found) if found else 1.0
    recall = hits / sum(pair.duplicate for pair in scored)
    return precision, recall


def f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def test_the_labelled_set_has_at_least_200_pairs_of_both_kinds():
    everything = pairs(held_out=False) + pairs(held_out=True)

    assert len(everything) >= 200
    assert sum(pair.duplicate for pair in everything) >= 100
    assert sum(not pair.duplicate for pair in everything) >= 100


def test_threshold_is_the_best_on_the_tuning_part(capsys: pytest.CaptureFixture[str]):
    tuning = pairs(held_out=False)
    candidates = [step / 100 for step in range(30, 100)]
    best = max(candidates, key=lambda t: (round(f1(*precision_recall(tuning, t)), 6), t))

    with capsys.disabled():
        print(f"\nnear-duplicates, tuned on {len(tuning)} pairs: best threshold {best:.2f}")
    assert best == pytest.approx(dedupe.THRESHOLD)


def test_precision_and_recall_on_the_held_out_part(capsys: pytest.CaptureFixture[str]):
    held_out = pairs(held_out=True)

    precision, recall = precision_recall(held_out, dedupe.THRESHOLD)

    with capsys.disabled():
        print(
            f"\nnear-duplicates, held-out part ({len(held_out)} pairs, "
            f"{sum(p.duplicate for p in held_out)} duplicates), threshold {dedupe.THRESHOLD}: "
            f"precision {precision:.3f}, recall {recall:.3f}"
        )
    assert precision >= 0.85
    assert recall >= 0.85


def test_a_syndicated_copy_matches_and_a_look_alike_does_not():
    triple = triples()[0]
    index = NearDuplicateIndex()
    story = fingerprint(triple["story"]["title"], triple["story"]["summary"])
    index.add("story", "story", T0, story)

    copy = fingerprint(triple["duplicate"]["title"], triple["duplicate"]["summary"])
    look = fingerprint(triple["lookalike"]["title"], triple["lookalike"]["summary"])

    match = index.match(copy, T0 + timedelta(hours=5))
    assert match is not None and (match.cluster_id, match.item_id) == ("story", "story")
    assert index.match(look, T0 + timedelta(hours=5)) is None


def test_copies_days_apart_are_different_stories():
    triple = triples()[0]
    index = NearDuplicateIndex()
    index.add(
        "story", "story", T0, fingerprint(triple["story"]["title"], triple["story"]["summary"])
    )
    copy = fingerprint(triple["duplicate"]["title"], triple["duplicate"]["summary"])

    assert index.match(copy, T0 + dedupe.WINDOW + timedelta(minutes=1)) is None
    assert index.match(copy, T0 - dedupe.WINDOW + timedelta(minutes=1)) is not None


def test_a_copy_joins_the_cluster_of_the_item_it_matches():
    triple = triples()[1]
    index = NearDuplicateIndex()
    index.add("erste", "erste", T0, fingerprint("Ganz andere Meldung", "Nichts gemeinsam."))
    index.add(
        "zweite", "cluster-7", T0, fingerprint(triple["story"]["title"], triple["story"]["summary"])
    )

    match = index.match(
        fingerprint(triple["duplicate"]["title"], triple["duplicate"]["summary"]), T0
    )

    assert match is not None and match.cluster_id == "cluster-7" and match.item_id == "zweite"


def test_stems_shared_by_many_items_are_no_evidence():
    index = NearDuplicateIndex(common_floor=10, common_share=0.0)
    for number in range(30):
        index.add(f"i{number}", f"i{number}", T0, fingerprint(f"Industrie Region {number}", ""))

    # Every indexed item shares "industrie" and "regio": too common to make anyone a candidate.
    assert index.match(fingerprint("Industrie Region", "Industrie Region"), T0) is None


def test_fingerprint_folds_umlauts_stems_words_and_reads_figures():
    print_ = fingerprint("Thüringer Wasserstoffnetz: 1.300 Stellen", "Förderung von 5,1 Prozent.")

    assert {"thuer", "wasse", "stell", "foerd", "proze"} <= print_.stems
    assert print_.figures == frozenset({"1300", "5,1"})
    assert fingerprint("Thueringer Wasserstoffnetzes", "").stems <= print_.stems


def test_the_example_feeds_hold_no_false_clusters(example_workspace: Path, database_url: str):
    """The example's campaign week has many stories that share wording, dates and places;
    none of them is a copy of another, so ingesting them must form no cluster."""
    workspace = load_workspace(example_workspace)
    assert workspace.config.demo is not None

    outcomes = ingest(
        database_url,
        list(workspace.feeds.values()),
        base_dir=workspace.root,
        now=workspace.config.demo.ingest_at,
        fetch=workspace.config.fetch,
    )

    assert {o.status for o in outcomes} == {"ok"}
    assert all(o.clustered == [] for o in outcomes)
    with session_scope(database_url) as session:
        assert clusters(session) == []
        assert len(session.scalars(select(Item)).all()) >= 150
