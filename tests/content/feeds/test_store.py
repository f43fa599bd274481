"""De-duplication into items and sources, events for new stories only, idempotent repeats."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from config.db import session_scope
from config.models import Event
from content.feeds.clusters import cluster_of, clusters
from content.feeds.normalise import NormalisedItem, normalise
from content.feeds.parse import RawEntry
from content.feeds.store import store
from content.models import Item, ItemSource


def entry(
    number: int = 1, *, feed_id: str = "th", now: datetime, **overrides: Any
) -> NormalisedItem:
    values: dict[str, Any] = {
        "guid": f"{feed_id}-{number}",
        "link": f"https://example.org/meldungen/{number}",
        "title": f"Fachkräftegipfel in Erfurt ({number})",
        "summary_html": "<p>Unternehmen und Gewerkschaften stellen Ergebnisse vor.</p>",
        "published": datetime(2025, 3, 10, 8, 0, tzinfo=UTC),
        "tags": ["Fachkräfte"],
    }
    values.update(overrides)
    return normalise(RawEntry(**values), feed_id=feed_id, feed_tags=[feed_id.upper()], now=now)


def test_new_item_gets_a_source_and_one_published_event(database_url: str, now: datetime):
    item = entry(1, now=now)

    with session_scope(database_url) as session:
        result = store(session, "th", [item], now)

    assert result.new == [item.item_id] and result.updated == []
    with session_scope(database_url) as session:
        stored = session.get(Item, item.item_id)
        assert stored is not None
        assert stored.first_seen_at == now
        assert [(s.feed_id, s.guid, s.link) for s in stored.sources] == [
            ("th", "th-1", "https://example.org/meldungen/1")
        ]
        event = session.scalars(select(Event)).one()
    assert event.type == "item.published"
    assert event.key == f"item.published:{item.item_id}"
    assert event.occurred_at == now
    assert event.payload == {
        "item_id": item.item_id,
        "cluster_id": item.item_id,
        "feed_id": "th",
        "url": "https://example.org/meldungen/1",
        "title": "Fachkräftegipfel in Erfurt (1)",
        "summary": "Unternehmen und Gewerkschaften stellen Ergebnisse vor.",
        "tags": ["TH", "Fachkräfte"],
        "published": "2025-03-10T08:00:00+00:00",
    }


def test_same_story_in_two_feeds_is_one_item_with_two_sources(
    database_url: str, now: datetime, count_rows: Callable[[], dict[str, int]]
):
    plain = entry(1, feed_id="th", now=now)
    tracked = entry(
        1,
        feed_id="ffm",
        now=now,
        link="https://Example.org/meldungen/1?utm_source=rss&utm_medium=feed",
        title="Anderer Titel beim Zweitverwerter",
    )

    with session_scope(database_url) as session:
        first = store(session, "th", [plain], now)
    with session_scope(database_url) as session:
        second = store(session, "ffm", [tracked], now + timedelta(minutes=5))

    assert first.new == [plain.item_id]
    assert second.new == [] and second.updated == [plain.item_id]
    assert count_rows() == {"items": 1, "sources": 2, "events": 1}
    with session_scope(database_url) as session:
        stored = session.get(Item, plain.item_id)
        assert stored is not None
        assert stored.title == "Fachkräftegipfel in Erfurt (1)"  # the first feed's text stays
        assert stored.tags == ["TH", "Fachkräfte", "FFM"]
        assert sorted(s.feed_id for s in stored.sources) == ["ffm", "th"]


def test_repeated_guid_with_a_new_title_updates_without_a_new_event(
    database_url: str, now: datetime, count_rows: Callable[[], dict[str, int]]
):
    original = entry(1, now=now)
    corrected = entry(1, now=now, title="Fachkräftegipfel in Erfurt: Ergebnisse")

    with session_scope(database_url) as session:
        store(session, "th", [original], now)
    with session_scope(database_url) as session:
        result = store(session, "th", [corrected], now + timedelta(hours=1))

    assert result.new == [] and result.updated == [original.item_id]
    assert count_rows() == {"items": 1, "sources": 1, "events": 1}
    with session_scope(database_url) as session:
        stored = session.get(Item, original.item_id)
        assert stored is not None
        assert stored.title == "Fachkräftegipfel in Erfurt: Ergebnisse"
        assert stored.content_hash == corrected.content_hash
        assert stored.first_seen_at == now


def test_storing_the_same_batch_twice_changes_nothing(
    database_url: str, now: datetime, count_rows: Callable[[], dict[str, int]]
):
    batch = [entry(n, now=now) for n in (1, 2, 3)]
    with session_scope(database_url) as session:
        store(session, "th", batch, now)
    before = count_rows()

    with session_scope(database_url) as session:
        result = store(session, "th", batch, now + timedelta(hours=1))

    assert result.new == [] and result.updated == []
    assert count_rows() == before == {"items": 3, "sources": 3, "events": 3}


def test_two_entries_of_one_batch_for_one_story_make_one_item(
    database_url: str, now: datetime, count_rows: Callable[[], dict[str, int]]
):
    batch = [
        entry(1, now=now, guid="a"),
        entry(1, now=now, guid="b", link="https://example.org/meldungen/1#oben"),
        entry(1, now=now, guid="a", title="Doppelt im Feed"),
    ]

    with session_scope(database_url) as session:
        result = store(session, "th", batch, now)

    assert result.new == [batch[0].item_id] and result.updated == []
    assert count_rows() == {"items": 1, "sources": 2, "events": 1}
    with session_scope(database_url) as session:
        guids = session.scalars(select(ItemSource.guid).order_by(ItemSource.guid)).all()
    assert guids == ["a", "b"]


# --- near-duplicate clusters --------------------------------------------------------------------

SYNDICATED = {
    "title": "Thüringen fördert Wasserstoffnetz mit 20 Millionen Euro",
    "summary_html": (
        "<p>Das Land unterstützt den Aufbau eines regionalen Wasserstoffnetzes zwischen Erfurt und "
        "Jena mit 20 Millionen Euro. Wirtschaftsminister Tiefensee übergab die Förderbescheide am "
        "Montag an drei Stadtwerke.</p>"
    ),
}
REWRITTEN = {
    "title": "20 Millionen Euro für Wasserstoff-Leitungen zwischen Erfurt und Jena",
    "summary_html": (
        "<p>Drei Stadtwerke erhalten Förderbescheide über insgesamt 20 Millionen Euro für ein "
        "regionales Wasserstoffnetz. Minister Tiefensee überreichte die Bescheide am Montag in "
        "Erfurt.</p>"
    ),
}


def test_a_syndicated_copy_joins_the_cluster_and_says_so_in_its_event(
    database_url: str, now: datetime, count_rows: Callable[[], dict[str, int]]
):
    original = entry(1, feed_id="th", now=now, **SYNDICATED)
    copy = entry(7, feed_id="mdr", now=now, link="https://mdr.example.org/wasserstoff", **REWRITTEN)
    other = entry(3, feed_id="mdr", now=now, link="https://mdr.example.org/anderes")

    with session_scope(database_url) as session:
        first = store(session, "th", [original], now)
    with session_scope(database_url) as session:
        second = store(session, "mdr", [copy, other], now + timedelta(hours=2))

    assert first.new == [original.item_id]
    assert second.new == [copy.item_id, other.item_id] and second.clustered == [copy.item_id]
    assert count_rows() == {"items": 3, "sources": 3, "events": 3}
    with session_scope(database_url) as session:
        cluster = cluster_of(session, copy.item_id)
        assert cluster is not None
        assert cluster.cluster_id == original.item_id
        assert [item.id for item in cluster.items] == [original.item_id, copy.item_id]
        assert cluster.feeds == ["th", "mdr"]
        assert [source.link for source in cluster.sources] == [
            "https://example.org/meldungen/1",
            "https://mdr.example.org/wasserstoff",
        ]
        assert [c.cluster_id for c in clusters(session)] == [original.item_id]
        payloads = {
            e.payload["item_id"]: e.payload["cluster_id"] for e in session.scalars(select(Event))
        }
        assert payloads == {
            original.item_id: original.item_id,
            copy.item_id: original.item_id,
            other.item_id: other.item_id,
        }
        alone = cluster_of(session, other.item_id)
        assert alone is not None and [item.id for item in alone.items] == [other.item_id]


def test_every_outlet_of_a_story_is_listed_once_per_source(database_url: str, now: datetime):
    original = entry(1, feed_id="th", now=now, **SYNDICATED)
    copy = entry(2, feed_id="mdr", now=now, link="https://mdr.example.org/w", **REWRITTEN)
    same_url_elsewhere = entry(
        3, feed_id="dpa", now=now, link="https://mdr.example.org/w?utm_source=x", **REWRITTEN
    )

    with session_scope(database_url) as session:
        store(session, "th", [original], now)
        store(session, "mdr", [copy], now)
        result = store(session, "dpa", [same_url_elsewhere], now)

    assert result.updated == [copy.item_id]
    with session_scope(database_url) as session:
        cluster = cluster_of(session, original.item_id)
        assert cluster is not None
        assert cluster.feeds == ["th", "mdr", "dpa"]
        assert len(cluster.sources) == 3


def test_a_new_item_is_its_own_cluster(database_url: str, now: datetime):
    with session_scope(database_url) as session:
        store(session, "th", [entry(1, now=now)], now)
    with session_scope(database_url) as session:
        (item,) = session.scalars(select(Item))
        assert item.cluster_id == item.id
