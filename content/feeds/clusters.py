"""Read near-duplicate clusters back: a story, every item that told it, every feed carrying it.

A cluster is the set of items sharing a ``cluster_id`` (the id of its first item). Campaigns and
editors want the story once, with all its sources; this module answers that from the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from content.models import Item, ItemSource


@dataclass(frozen=True)
class Cluster:
    """A story: its first item, all its items (oldest first) and every source of any of them."""

    cluster_id: str
    items: list[Item]
    sources: list[ItemSource]

    @property
    def first(self) -> Item:
        return self.items[0]

    @property
    def feeds(self) -> list[str]:
        """The feeds that carried the story, each once, in the order they first did."""
        seen: list[str] = []
        for source in self.sources:
            if source.feed_id not in seen:
                seen.append(source.feed_id)
        return seen


def cluster_of(session: Session, item_id: str) -> Cluster | None:
    """The cluster the item ``item_id`` belongs to, or None if there is no such item."""
    item = session.get(Item, item_id)
    if item is None:
        return None
    return _cluster(session, item.cluster_id)


def clusters(session: Session, *, min_items: int = 2) -> list[Cluster]:
    """Every cluster of at least ``min_items`` items, newest story first."""
    ids = session.scalars(
        select(Item.cluster_id)
        .group_by(Item.cluster_id)
        .having(func.count(Item.id) >= min_items)
        .order_by(func.max(Item.published_at).desc(), Item.cluster_id)
    )
    return [_cluster(session, cluster_id) for cluster_id in ids]


def _cluster(session: Session, cluster_id: str) -> Cluster:
    items = list(
        session.scalars(
            select(Item)
            .where(Item.cluster_id == cluster_id)
            .order_by(Item.first_seen_at, Item.published_at, Item.id)
        )
    )
    # The first item starts the cluster, whatever the dates say.
    items.sort(key=lambda item: item.id != cluster_id)
    sources = [source for item in items for source in item.sources]
    return Cluster(cluster_id=cluster_id, items=items, sources=sources)
