from __future__ import annotations

from datetime import UTC, datetime, timedelta

from campaigns.schema import Interests
from content.selection import Candidate, select

NOW = datetime(2026, 11, 16, 7, tzinfo=UTC)


def item(
    n: int, title: str, *, feed: str = "bund", hours_ago: int = 1, summary: str = ""
) -> Candidate:
    return Candidate(
        item_id=f"i{n}",
        title=title,
        summary=summary,
        url=f"https://example.org/{n}",
        published=NOW - timedelta(hours=hours_ago),
        feeds=(feed,),
    )


INTERESTS = Interests.model_validate(
    {"keywords": ["Wasserstoff", {"Chempark": 3}], "regions": ["Krefeld"]}
)


def test_order_follows_weights_title_matches_and_recency() -> None:
    items = [
        item(1, "Wasserstoff für Betriebe", hours_ago=2),
        item(2, "Chempark erweitert Ausbildung", hours_ago=30),
        item(3, "Neues aus Berlin", summary="Auch Wasserstoff ist ein Thema."),
        item(4, "Nichts Passendes"),
    ]
    chosen = select(items, INTERESTS, [], now=NOW, lookback=timedelta(days=7), max_items=8)
    assert [c.candidate.item_id for c in chosen] == ["i2", "i1", "i3"]
    assert "keyword Chempark (title)" in chosen[0].reason
    assert "score" in chosen[0].reason


def test_one_source_fills_at_most_half_an_issue() -> None:
    items = [item(n, f"Wasserstoff Meldung {n}", feed="bund", hours_ago=n) for n in range(1, 7)]
    items.append(item(10, "Wasserstoff in Krefeld", feed="krefeld", hours_ago=20))
    chosen = select(items, INTERESTS, [], now=NOW, lookback=timedelta(days=7), max_items=4)
    feeds = [c.candidate.feeds[0] for c in chosen]
    assert feeds.count("bund") == 2
    assert "krefeld" in feeds


def test_items_outside_the_lookback_or_in_the_future_are_left_out() -> None:
    items = [
        item(1, "Wasserstoff alt", hours_ago=24 * 8),
        item(2, "Wasserstoff künftig", hours_ago=-2),
    ]
    assert select(items, INTERESTS, [], now=NOW, lookback=timedelta(days=7), max_items=5) == []


def test_own_feed_counts_even_without_keywords() -> None:
    chosen = select(
        [item(1, "Neues Team", feed="krefeld")],
        INTERESTS,
        ["krefeld"],
        now=NOW,
        lookback=timedelta(days=7),
        max_items=5,
    )
    assert chosen and chosen[0].matched == ("own feed krefeld",)
