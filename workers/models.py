"""Deliveries: one piece through one channel to one target, the record of truth for sending.

A row is created once per key (``piece|channel|target ref``) and moves ``pending → sending →
sent``, or to ``failed`` (permanent), ``suppressed`` (the address is on the suppression list at
send time) or ``unknown`` (a worker died while it was ``sending``: it may have left, so it is
never resent without an operator's ``depesche deliveries resend``). ``attempts`` counts claims
and doubles as the claim token: a worker records an outcome only for the attempt it claimed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from config.db import Base, UTCDateTime

PENDING, SENDING, SENT, FAILED, UNKNOWN, SUPPRESSED = (
    "pending",
    "sending",
    "sent",
    "failed",
    "unknown",
    "suppressed",
)
STATES = (PENDING, SENDING, SENT, FAILED, UNKNOWN, SUPPRESSED)
# States in which nothing more will happen without an operator.
FINAL = frozenset({SENT, FAILED, SUPPRESSED})


class Delivery(Base):
    __tablename__ = "deliveries"
    # The release step's question: which pending rows are due now (and which leases expired).
    __table_args__ = (Index("ix_deliveries_status_due_at", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)
    piece_id: Mapped[int] = mapped_column(ForeignKey("pieces.id"), index=True)
    channel: Mapped[str] = mapped_column(String(40))
    # Where it goes (an address, a URL, an account) and the stable id the key is built from
    # (``subscriber:17``, ``journalist:3``, ``initiative:krefeld``), which GDPR erasure keeps.
    target: Mapped[str] = mapped_column(Text)
    target_ref: Mapped[str] = mapped_column(String(200))
    # Channel values fixed at routing time (unsubscribe_url, name, audience); never secrets.
    options: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # After a transient error: the earliest instant of the next try (backoff or Retry-After).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # While ``sending``: until when the claiming worker may take; afterwards it counts as dead.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    external_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
