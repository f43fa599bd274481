"""Write normalised entries as items: one item per story, one source per feed that carried it.

A story is first recognised by its feed's GUID (GUIDs are unique within a feed, and survive a
changed link), then by canonical URL across feeds. Only a story seen for the first time emits
``item.published``; an edit updates the row quietly, so campaigns triggered by new stories do not
fire twice for a corrected typo. Storing the same batch again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from config.models import record_event
from content.feeds.normalise import NormalisedItem, merge_tags
from content.models import Item, ItemSource

ITEM_PUBLISHED = "item.published"
# Event payloads stay small; the summary is there for keyword filters of event triggers.
EVENT_SUMMARY_CHARS = 1000


@dataclass(frozen=True)
class StoreResult:
    """Item ids by what happened to them; ``updated`` includes items that gained this feed."""

    new: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def store(
    session: Session, feed_id: str, items: list[NormalisedItem], now: datetime
) -> StoreResult:
    """Add or update ``items`` of feed ``feed_id`` in the caller's transaction (not committed).

    Within a batch a GUID counts once (the first entry wins), as feeds sometimes repeat one.
    """
    new: list[str] = []
    updated: list[str] = []
    seen_guids: set[str] = set()
    for entry in items:
        if entry.guid in seen_guids:
            continue
        seen_guids.add(entry.guid)
        outcome, item_id = _store_one(session, feed_id, entry, now)
        if outcome == "new":
            new.append(item_id)
        elif outcome == "updated" and item_id not in new and item_id not in updated:
            updated.append(item_id)
    return StoreResult(new=new, updated=updated)


def _store_one(
    session: Session, feed_id: str, entry: NormalisedItem, now: datetime
) -> tuple[str | None, str]:
    """Store one entry; returns ``("new" | "updated" | None, item id)``."""
    source = _source(session, feed_id, entry.guid)
    if source is not None:
        link_changed = source.link != entry.link
        source.link = entry.link
        content_changed = _update_content(source.item, entry)
        return ("updated" if content_changed or link_changed else None), source.item_id

    item = session.get(Item, entry.item_id)
    if item is not None:
        # Another feed (or this feed under another GUID) already brought this story: the first
        # text stays, this feed becomes one more source and lends its tags.
        session.add(ItemSource(item=item, feed_id=feed_id, guid=entry.guid, link=entry.link))
        tags = merge_tags(item.tags, entry.tags)
        if tags != item.tags:
            item.tags = tags
        session.flush()
        return "updated", item.id

    item = Item(
        id=entry.item_id,
        canonical_url=entry.canonical_url,
        title=entry.title,
        summary_html=entry.summary_html,
        summary_text=entry.summary_text,
        published_at=entry.published,
        first_seen_at=now,
        content_hash=entry.content_hash,
        tags=list(entry.tags),
    )
    session.add(item)
    session.add(ItemSource(item=item, feed_id=feed_id, guid=entry.guid, link=entry.link))
    record_event(
        session,
        ITEM_PUBLISHED,
        f"{ITEM_PUBLISHED}:{entry.item_id}",
        {
            "item_id": entry.item_id,
            "feed_id": feed_id,
            "url": entry.canonical_url,
            "title": entry.title,
            "summary": entry.summary_text[:EVENT_SUMMARY_CHARS],
            "tags": list(entry.tags),
            "published": entry.published.isoformat(),
        },
        now,
    )
    session.flush()  # later entries of the batch must find this item by id
    return "new", item.id


def _source(session: Session, feed_id: str, guid: str) -> ItemSource | None:
    return session.scalar(
        select(ItemSource).where(ItemSource.feed_id == feed_id, ItemSource.guid == guid)
    )


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
