"""Slots and runs: the record of which trigger fired when, and the work it caused.

A slot's key is the idempotency key of everything downstream; the primary key on it is what
makes a second firing (a re-run, a second beat) harmless. A run is the work a slot fans out to,
one ``RunTask`` per initiative; the database, not the broker, is the source of truth on progress.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from config.db import Base, UTCDateTime


class Slot(Base):
    __tablename__ = "slots"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(100), index=True)
    deliverable: Mapped[str] = mapped_column(String(100))
    folder: Mapped[str] = mapped_column(String(120))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    item_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    slot_key: Mapped[str] = mapped_column(ForeignKey("slots.key"), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="running")
    out_dir: Mapped[str] = mapped_column(Text)
    revision: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RunTask(Base):
    """One initiative's share of a run: the unit a worker claims and finishes."""

    __tablename__ = "run_tasks"
    __table_args__ = (UniqueConstraint("run_id", "initiative"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    initiative: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # When the share was last handed to the broker, and when a worker claimed it: the sweeper
    # re-sends shares nobody claimed in time and shares whose claim (lease) ran out.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CampaignControl(Base):
    """An operator's hold on a campaign: ``active``, ``paused`` or ``cancelled`` (final).

    No row means active. ``version`` counts the changes and keys each change's event.
    """

    __tablename__ = "campaign_controls"

    campaign: Mapped[str] = mapped_column(String(100), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
