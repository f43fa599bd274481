"""The beat's persistent state: its watermark, and the slots it judged too late to fire.

Celery's default beat keeps its schedule in a local shelve file, which a container restart or a
second machine does not see. The database is already the source of truth for slots and runs
(their unique keys make a second firing harmless), so the beat's state lives beside them: any
``depesche beat`` process on any machine continues where the last one stopped.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from config.db import Base, UTCDateTime


class ScheduleState(Base):
    """One row per schedule (``default``): every slot due before ``checked_until`` is decided."""

    __tablename__ = "schedule_state"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    checked_until: Mapped[datetime] = mapped_column(UTCDateTime)
    ticked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # host:pid of the beat that last moved the watermark; two beats show up here by turns.
    ticked_by: Mapped[str] = mapped_column(String(200))


class MissedSlot(Base):
    """A schedule slot that fell due while no beat ran and was older than the grace window."""

    __tablename__ = "missed_slots"

    slot_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(100), index=True)
    deliverable: Mapped[str] = mapped_column(String(100))
    folder: Mapped[str] = mapped_column(String(120))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
