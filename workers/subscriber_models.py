"""Tables of the subscriber lists: subscribers, proof of consent, press lists, suppression.

Addresses are stored normalised (``workers/addresses.py``) and are unique per initiative, so a
repeated sign-up or import finds the row it made before instead of adding a second one. The
suppression list and the bounce records keep only a hash of the address: they must outlive the
erasure of the person they protect (see ``workers/gdpr.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from config.db import Base, UTCDateTime

UNCONFIRMED, CONFIRMED, UNSUBSCRIBED = "unconfirmed", "confirmed", "unsubscribed"
SUBSCRIBER_STATES = (UNCONFIRMED, CONFIRMED, UNSUBSCRIBED)


class Subscriber(Base):
    """One address on one initiative's list, in one audience (the newsletter variant it gets)."""

    __tablename__ = "subscribers"
    __table_args__ = (
        UniqueConstraint("initiative", "address"),
        # What email_recipients asks for every piece: one initiative's confirmed audience.
        Index("ix_subscribers_initiative_status_audience", "initiative", "status", "audience"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    initiative: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # None: no audience variant chosen; the subscriber gets the newsletter's first variant.
    audience: Mapped[str | None] = mapped_column(String(60), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default=UNCONFIRMED)
    source: Mapped[str] = mapped_column(String(20))  # web | cli | import
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The instant the pending confirmation mail was issued for; its Message-ID derives from it.
    confirmation_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ConsentText(Base):
    """The exact wording a person agreed to, keyed by its SHA-256 (the version)."""

    __tablename__ = "consent_texts"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    initiative: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConsentRecord(Base):
    """Proof of consent (Art. 7 Abs. 1 DSGVO): what happened, when, from where, to which text.

    ``action`` is ``signup`` (form or command), ``confirm`` (the link in the confirmation mail)
    or ``documented`` (an import whose prior consent an operator states in ``note``).
    """

    __tablename__ = "consent_records"
    __table_args__ = (UniqueConstraint("subscriber_id", "action"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    consent_version: Mapped[str | None] = mapped_column(
        ForeignKey("consent_texts.version"), nullable=True
    )
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class PressContact(Base):
    """A journalist on an initiative's Presseverteiler."""

    __tablename__ = "press_contacts"
    __table_args__ = (UniqueConstraint("initiative", "address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    initiative: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(200))
    outlet: Mapped[str] = mapped_column(String(200))
    beat: Mapped[str | None] = mapped_column(String(200), nullable=True)
    address: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Suppression(Base):
    """An address no send may reach: hard bounce, complaint, or erased at the person's request."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    address_hash: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(20))  # bounce | complaint | erased | manual
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BounceRecord(Base):
    """One recipient of one bounce or complaint report, kept for `depesche report`.

    ``key`` (the report's Message-ID, or its hash, plus the recipient) makes reading the same
    report twice harmless; ``original_message_id`` matches ``deliveries.external_id``.
    """

    __tablename__ = "bounce_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    address_hash: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # hard | soft | complaint
    status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    original_message_id: Mapped[str | None] = mapped_column(String(300), nullable=True, index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
