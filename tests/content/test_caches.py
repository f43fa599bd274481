"""Slot data is shared between the initiatives of a slot, and forgotten on request."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from content.caches import forget_slot_data
from content.selection import Candidate, pool_of

NOW = datetime(2026, 11, 16, 7, tzinfo=UTC)


def test_equal_candidates_share_a_pool_until_the_slot_data_is_forgotten() -> None:
    items = tuple(
        Candidate(f"i{n}", f"Titel {n}", "Text", f"https://example.org/{n}", NOW, ("bund",))
        for n in range(3)
    )
    first = pool_of(items)
    assert pool_of(items) is first
    # Loaded again from the database: equal, not identical; the pool is reused all the same.
    assert pool_of(tuple(replace(c) for c in items)) is first
    assert pool_of(items[:2]) is not first
    forget_slot_data()
    assert pool_of(items) is not first
