"""The seams between delivery and the work beside it: review and subscriber lists.

Delivery needs answers it does not own: who receives a piece by mail and whether an address is
suppressed right before a mail leaves (``workers/subscribers.py``), whether a piece may be sent
now and how it changes state (``content/review.py``: ``hold_reason``, ``transition``). The
recipient side is a :class:`RecipientSource`, so tests (and the benchmark) inject their own
lists; the review side is called as it is, since its state table is the one truth.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from content import review
from content.models import Piece
from workers import subscribers
from workers.addresses import address_hash
from workers.recipients import Recipient

ACTOR = "delivery"


class RecipientSource(Protocol):
    """Who a piece goes to by mail, and who must not get mail at all."""

    def email_recipients(
        self, session: Session, initiative: str, audience: str | None
    ) -> list[Recipient]: ...

    def press_recipients(self, session: Session, initiative: str) -> list[Recipient]: ...

    def is_suppressed(self, session: Session, address: str) -> bool: ...


class SubscriberLists:
    """The subscriber work's lists (``workers/subscribers.py``): confirmed, not unsubscribed,
    not suppressed subscribers; the press list; the suppression list."""

    def email_recipients(
        self, session: Session, initiative: str, audience: str | None
    ) -> list[Recipient]:
        return subscribers.email_recipients(session, initiative, audience)

    def press_recipients(self, session: Session, initiative: str) -> list[Recipient]:
        return subscribers.press_recipients(session, initiative)

    def is_suppressed(self, session: Session, address: str) -> bool:
        return subscribers.is_suppressed(session, address)

    def suppressed_among(self, session: Session, addresses: list[str]) -> set[str]:
        """One query per chunk instead of one per address (a digest has thousands)."""
        hashes = subscribers.suppressed_hashes(session, addresses)
        return {a for a in addresses if address_hash(a) in hashes}


def suppressed_among(
    source: RecipientSource, session: Session, addresses: Iterable[str]
) -> set[str]:
    """The suppressed ones of ``addresses``: one query when the source offers a bulk lookup
    (``suppressed_among(session, addresses)``), else one question per address."""
    unique = list(dict.fromkeys(addresses))
    if not unique:
        return set()
    bulk = getattr(source, "suppressed_among", None)
    if callable(bulk):
        return set(bulk(session, unique))
    return {address for address in unique if source.is_suppressed(session, address)}


def transition(session: Session, piece: Piece, state: str, *, now: datetime) -> None:
    """Move ``piece`` through the review work's state table (it records ``piece.<state>``)."""
    review.transition(session, piece, state, actor=ACTOR, now=now)
