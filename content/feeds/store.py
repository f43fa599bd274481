"""Write normalised entries as items: one item per story URL, one source per feed that carried it.

A story is first recognised by its feed's GUID (GUIDs are unique within a feed, and survive a
changed link), then by canonical URL across feeds. An item under a new URL is compared with
recent items (:mod:`content.feeds.dedupe`): a syndicated copy of a known story joins that
story's cluster, so the cluster lists every outlet that told it. Every new item emits
``item.published`` with its ``cluster_id`` (a copy's differs from its own id), so handlers can
act once per story without ever losing a story to a wrong match; an edit updates the row
quietly, so campaigns triggered by new stories do not fire twice for a corrected typo. Storing
the same batch again changes nothing.

Lookups are made per batch (one query for the feed's known GUIDs, one for known URLs, one for
existing event keys), not per entry: a cold start stores tens of thousands of entries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session, selectinload

from config.models import Event
from content.feeds.dedupe import NearDuplicateIndex, fingerprint
from content.feeds.normalise import NormalisedItem, merge_tags
from content.models import Item, ItemSource

ITEM_PUBLISHED = "item.published"
# Event payloads stay small; the summary is there for keyword filters of event triggers.
EVENT_SUMMARY_CHARS = 1000
# How far back stored items are loaded to find near-duplicates of new ones.
INDEX_LOOKBACK = timedelta(days=7)
# SQL parameter lists stay well below every database's limit.
_CHUNK = 500
_ITEMS = cast(Table, Item.__table__)
_SOURCES = cast(Table, ItemSource.__table__)
_EVENTS = cast(Table, Event.__table__)


@dataclass(frozen=True)
class StoreResult:
    """Item ids by what happened to them.

    ``new`` items were stored for the first time, each with an ``item.published`` event;
    ``clustered`` are those of them that joined the cluster of a known story; ``updated`` items
    changed text or tags, or gained this feed as a source.
    """

    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    clustered: list[str] = field(default_factory=list)


def load_index(
    session: Session, now: datetime, lookback: timedelta = INDEX_LOOKBACK
) -> NearDuplicateIndex:
    """An index of the items published in the ``lookback`` before ``now``, oldest first."""
    index = NearDuplicateIndex()
    rows = session.execute(
        select(Item.id, Item.cluster_id, Item.title, Item.summary_text, Item.published_at)
        .where(Item.published_at >= now - lookback)
        .order_by(Item.published_at, Item.id)
    )
    for item_id, cluster_id, title, summary_text, published in rows:
        index.add(item_id, cluster_id, published, fingerprint(title, summary_text))
    return index


def store(
    session: Session,
    feed_id: str,
    items: list[NormalisedItem],
    now: datetime,
    *,
    index: NearDuplicateIndex | None = None,
) -> StoreResult:
    """Add or update ``items`` of feed ``feed_id`` in the caller's transaction (not committed).

    ``index`` holds the recent items to find near-duplicates in; without one it is loaded from
    the database. New items are added to it, so the next batch finds them too. Within a batch a
    GUID counts once (the first entry wins), as feeds sometimes repeat one.
    """
    batch = _unique_guids(items)
    if not batch:
        return StoreResult()
    if index is None:
        index = load_index(session, now)
    sources = _known_sources(session, feed_id, [entry.guid for entry in batch])
    known_items = _known_items(
        session, [entry.item_id for entry in batch if entry.guid not in sources]
    )
    result = _Result()
    rows = _NewRows()
    for entry in batch:
        source = sources.get(entry.guid)
        if source is not None:
            changed = source.link != entry.link
            source.link = entry.link
            if _update_content(source.item, entry) or changed:
                result.touch(source.item_id)
            continue
        item = known_items.get(entry.item_id)
        if item is not None:
            # Another feed (or this feed under another GUID) already brought this story: the
            # first text stays, this feed becomes one more source and lends its tags.
            session.add(ItemSource(item=item, feed_id=feed_id, guid=entry.guid, link=entry.link))
            tags = merge_tags(item.tags, entry.tags)
            if tags != item.tags:
                item.tags = tags
            result.touch(item.id)
            continue
        pending = rows.items.get(entry.item_id)
        if pending is not None:
            # The same story twice in this batch, under two GUIDs: one item, two sources.
            rows.sources.append(_source_row(feed_id, entry))
            pending["tags"] = merge_tags(pending["tags"], entry.tags)
            continue
        copy = _new_item(rows, feed_id, entry, now, index)
        result.new.append(entry.item_id)
        if copy:
            result.clustered.append(entry.item_id)
    session.flush()
    rows.insert(session)
    return StoreResult(new=result.new, updated=result.updated, clustered=result.clustered)


@dataclass
class _NewRows:
    """Rows for new items, their sources and events, inserted in one statement each.

    Building ORM objects costs several times what parsing the entry did; a cold start stores
    tens of thousands of items, so new rows go in as plain values.
    """

    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def insert(self, session: Session) -> None:
        # Core inserts (executemany); the column types still convert datetimes and JSON.
        if self.items:
            session.execute(insert(_ITEMS), list(self.items.values()))
        if self.sources:
            session.execute(insert(_SOURCES), self.sources)
        existing = _existing_event_keys(session, [event["key"] for event in self.events])
        events = [event for event in self.events if event["key"] not in existing]
        if events:
            session.execute(insert(_EVENTS), events)


@dataclass
class _Result:
    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    clustered: list[str] = field(default_factory=list)

    def touch(self, item_id: str) -> None:
        if item_id not in self.new and item_id not in self.updated:
            self.updated.append(item_id)


def _unique_guids(items: list[NormalisedItem]) -> list[NormalisedItem]:
    seen: set[str] = set()
    unique: list[NormalisedItem] = []
    for entry in items:
        if entry.guid not in seen:
            seen.add(entry.guid)
            unique.append(entry)
    return unique


def _new_item(
    rows: _NewRows,
    feed_id: str,
    entry: NormalisedItem,
    now: datetime,
    index: NearDuplicateIndex,
) -> bool:
    """Add the rows of a new item and its event; returns whether it joined a known story."""
    print_ = entry.fingerprint or fingerprint(entry.title, entry.summary_text)
    match = index.match(print_, entry.published)
    cluster_id = match.cluster_id if match is not None else entry.item_id
    rows.items[entry.item_id] = {
        "id": entry.item_id,
        "canonical_url": entry.canonical_url,
        "title": entry.title,
        "summary_html": entry.summary_html,
        "summary_text": entry.summary_text,
        "published_at": entry.published,
        "first_seen_at": now,
        "content_hash": entry.content_hash,
        "tags": list(entry.tags),
        "cluster_id": cluster_id,
    }
    rows.sources.append(_source_row(feed_id, entry))
    rows.events.append(
        {
            "key": f"{ITEM_PUBLISHED}:{entry.item_id}",
            "type": ITEM_PUBLISHED,
            "payload": _payload(feed_id, entry, cluster_id),
            "occurred_at": now,
        }
    )
    index.add(entry.item_id, cluster_id, entry.published, print_)
    return match is not None


def _source_row(feed_id: str, entry: NormalisedItem) -> dict[str, Any]:
    return {"item_id": entry.item_id, "feed_id": feed_id, "guid": entry.guid, "link": entry.link}


def _payload(feed_id: str, entry: NormalisedItem, cluster_id: str) -> dict[str, Any]:
    return {
        "item_id": entry.item_id,
        "cluster_id": cluster_id,
        "feed_id": feed_id,
        "url": entry.canonical_url,
        "title": entry.title,
        "summary": entry.summary_text[:EVENT_SUMMARY_CHARS],
        "tags": list(entry.tags),
        "published": entry.published.isoformat(),
    }


def _existing_event_keys(session: Session, keys: list[str]) -> set[str]:
    """Keys already recorded: a retried batch must not write an event twice."""
    existing: set[str] = set()
    for chunk in _chunks(keys):
        existing.update(session.scalars(select(Event.key).where(Event.key.in_(chunk))))
    return existing


def _known_sources(session: Session, feed_id: str, guids: list[str]) -> dict[str, ItemSource]:
    found: dict[str, ItemSource] = {}
    for chunk in _chunks(guids):
        query = (
            select(ItemSource)
            .where(ItemSource.feed_id == feed_id, ItemSource.guid.in_(chunk))
            .options(selectinload(ItemSource.item))
        )
        for source in session.scalars(query):
            found[source.guid] = source
    return found


def _known_items(session: Session, item_ids: list[str]) -> dict[str, Item]:
    found: dict[str, Item] = {}
    for chunk in _chunks(sorted(set(item_ids))):
        for item in session.scalars(select(Item).where(Item.id.in_(chunk))):
            found[item.id] = item
    return found


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _update_content(item: Item, entry: NormalisedItem) -> bool:
    """Take the feed's corrected title and summary; returns whether anything changed."""
    changed = False
    if (item.title, item.summary_html, item.content_hash) != (
        entry.title,
        entry.summary_html,
        entry.content_hash,
    ):
        item.title = entry.title
        item.summary_html = entry.summary_html
        item.summary_text = entry.summary_text
        item.content_hash = entry.content_hash
        changed = True
    tags = merge_tags(item.tags, entry.tags)
    if tags != item.tags:
        item.tags = tags
        changed = True
    return changed
