"""Golden files: every piece kind of one initiative, byte for byte as the demo renders them.

A change to templates, composers or the example shows up here as a diff to review. After an
intended change, regenerate with ``DEPESCHE_UPDATE_GOLDEN=1 make test`` and read the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
INITIATIVE = "krefeld"
SLOTS = [
    "wochenrueckblick/digest-20261109T0700Z",
    "woche-der-industrie/kickoff-20261102T0800Z",
    "woche-der-industrie/pressemitteilung-20261109T0900Z",
]


def golden_slots(demo_run) -> list[str]:
    social = sorted(
        p.parent.relative_to(demo_run.out / INITIATIVE).as_posix()
        for p in (demo_run.out / INITIATIVE).rglob("social-x.txt")
    )
    return [*SLOTS, social[0]]


def test_golden_files_cover_every_piece_kind(demo_run) -> None:
    kinds = {slot.split("/")[1].split("-")[0] for slot in golden_slots(demo_run)}
    assert kinds == {"digest", "kickoff", "pressemitteilung", "social"}


@pytest.mark.parametrize("index", range(4))
def test_output_matches_golden_files(demo_run, index: int) -> None:
    slot = golden_slots(demo_run)[index]
    produced = demo_run.out / INITIATIVE / slot
    expected = GOLDEN / INITIATIVE / slot.split("/")[0] / slot.split("/")[1].split("-item-")[0]
    files = sorted(p.name for p in produced.iterdir())
    assert files, produced
    if os.environ.get("DEPESCHE_UPDATE_GOLDEN"):
        expected.mkdir(parents=True, exist_ok=True)
        for name in files:
            (expected / name).write_bytes((produced / name).read_bytes())
    assert sorted(p.name for p in expected.iterdir()) == files
    for name in files:
        assert (produced / name).read_bytes() == (expected / name).read_bytes(), name
