"""Feeds' fetch state, normalised items, and the pieces assembled from them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from config.db import Base, UTCDateTime


class FeedState(Base):
    """What the last fetch of a feed left behind: validators for conditional GET and health.

    ``url`` is the URL from feeds.yaml the state belongs to (a changed URL starts afresh);
    ``fetch_url`` is where a permanent redirect moved it. ``next_fetch_at`` is the earliest
    instant the feed may be fetched again (its interval, a backoff after failures, or the
    server's ``Retry-After``); ``paused_at`` is set after too many failures in a row.
    """

    __tablename__ = "feeds"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    fetch_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    etag: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_modified: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_problem: Mapped[str | None] = mapped_column(Text, nullable=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    next_fetch_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The instant the server's Retry-After named: every feed of this host waits until then.
    retry_after_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Item(Base):
    """One news story, whichever feeds carried it; ``id`` derives from its canonical URL."""

    __tablename__ = "items"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    canonical_url: Mapped[str] = mapped_column(Text, unique=True)
    title: Mapped[str] = mapped_column(Text)
    summary_html: Mapped[str] = mapped_column(Text)
    summary_text: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    content_hash: Mapped[str] = mapped_column(String(64))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The near-duplicate cluster: the id of the cluster's first item (its own id when alone).
    cluster_id: Mapped[str] = mapped_column(String(40), index=True)
    sources: Mapped[list[ItemSource]] = relationship(
        back_populates="item", order_by="ItemSource.id", lazy="selectin"
    )


class ItemSource(Base):
    """One feed's entry for an item; GUIDs are unique per feed, not across feeds."""

    __tablename__ = "item_sources"
    __table_args__ = (UniqueConstraint("feed_id", "guid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)
    feed_id: Mapped[str] = mapped_column(String(100))
    guid: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(Text)
    item: Mapped[Item] = relationship(back_populates="sources")


class Piece(Base):
    """One assembled artifact for one initiative, keyed by slot, initiative and form."""

    __tablename__ = "pieces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    slot_key: Mapped[str] = mapped_column(String(200), index=True)
    initiative: Mapped[str] = mapped_column(String(100), index=True)
    campaign: Mapped[str] = mapped_column(String(100))
    deliverable: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    platform: Mapped[str | None] = mapped_column(String(20), nullable=True)
    # Moved only by content.review.transition, which checks the move and records its event.
    state: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The earliest instant it may go out, and a press release's Sperrfrist (None: none).
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    embargo_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    files: Mapped[list[PieceFile]] = relationship(
        back_populates="piece", order_by="PieceFile.name", lazy="selectin"
    )


class PieceFile(Base):
    __tablename__ = "piece_files"
    __table_args__ = (UniqueConstraint("piece_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    piece_id: Mapped[int] = mapped_column(ForeignKey("pieces.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    piece: Mapped[Piece] = relationship(back_populates="files")


class PieceTransition(Base):
    """One move of a piece's state, numbered per piece: who moved it, when, and why.

    ``content.review.transition`` moves the state with a compare-and-set; the unique
    ``(piece_id, seq)`` keeps the history free of a second entry for the same step.
    """

    __tablename__ = "piece_transitions"
    __table_args__ = (UniqueConstraint("piece_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    piece_id: Mapped[int] = mapped_column(ForeignKey("pieces.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class PieceApproval(Base):
    """One review level's approval of a piece; a level approves a piece once."""

    __tablename__ = "piece_approvals"
    __table_args__ = (UniqueConstraint("piece_id", "level"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    piece_id: Mapped[int] = mapped_column(ForeignKey("pieces.id"), index=True)
    level: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class PieceComment(Base):
    """A reviewer's remark; ``key`` makes a repeated command or task add it once."""

    __tablename__ = "piece_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    piece_id: Mapped[int] = mapped_column(ForeignKey("pieces.id"), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReviewNotification(Base):
    """The mail asking one reviewer to approve one piece at one level: sent once.

    Written as ``sending`` (committed) before the mail leaves and ``sent`` after; a row left in
    ``sending`` by a crash is not sent again (the reviewer may have it already), ``failed`` is.
    """

    __tablename__ = "review_notifications"
    __table_args__ = (UniqueConstraint("piece_id", "level", "address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    piece_id: Mapped[int] = mapped_column(ForeignKey("pieces.id"), index=True)
    level: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(20))
    message_id: Mapped[str | None] = mapped_column(String(300), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
