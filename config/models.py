"""The event outbox: an append-only record of what happened, written beside the state change.

Every package writes events, so the table lives in ``config/`` next to the base. An event is
inserted in the same transaction as the change it reports; its ``key`` makes a repeated write
(a retried task) a no-op instead of a second event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from config.db import Base, UTCDateTime


class Event(Base):
    __tablename__ = "events"
    # Only undispatched events, in id order: what the outbox dispatcher reads (workers/outbox.py).
    __table_args__ = (
        Index(
            "ix_events_pending",
            "id",
            sqlite_where=text("dispatched_at IS NULL"),
            postgresql_where=text("dispatched_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    type: Mapped[str] = mapped_column(String(60), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


def record_event(
    session: Session, type_: str, key: str, payload: dict[str, Any], at: datetime
) -> Event:
    """Add ``type_`` once per ``key``; the caller's transaction commits it with its change."""
    existing = session.scalar(select(Event).where(Event.key == key))
    if existing is not None:
        return existing
    event = Event(key=key, type=type_, payload=payload, occurred_at=at)
    session.add(event)
    return event
