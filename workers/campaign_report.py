"""``depesche report CAMPAIGN``: what became of a campaign's mails, per initiative.

Counts what the delivery records say (one column per delivery state that occurs: sent, failed,
pending, unknown, ...), plus what came back afterwards: hard bounces and complaints matched by
the Message-ID the delivery recorded, and recipients who have unsubscribed since.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from content.models import Piece
from workers.models import Delivery
from workers.subscriber_models import UNSUBSCRIBED, BounceRecord, Subscriber

_CHUNK = 500


@dataclass
class InitiativeReport:
    initiative: str
    states: Counter[str] = field(default_factory=Counter)
    bounced: int = 0
    complained: int = 0
    unsubscribed: int = 0

    @property
    def sent(self) -> int:
        return self.states["sent"]

    @property
    def failed(self) -> int:
        return self.states["failed"]

    def as_dict(self) -> dict[str, object]:
        return {
            "initiative": self.initiative,
            "sent": self.sent,
            "bounced": self.bounced,
            "complained": self.complained,
            "unsubscribed": self.unsubscribed,
            "failed": self.failed,
            "states": dict(sorted(self.states.items())),
        }


def campaign_report(session: Session, campaign: str) -> list[InitiativeReport]:
    reports: dict[str, InitiativeReport] = {}

    def report(initiative: str) -> InitiativeReport:
        return reports.setdefault(initiative, InitiativeReport(initiative))

    counted = session.execute(
        select(Piece.initiative, Delivery.status, func.count(Delivery.id))
        .join(Piece, Piece.id == Delivery.piece_id)
        .where(Piece.campaign == campaign)
        .group_by(Piece.initiative, Delivery.status)
    )
    for initiative, status, count in counted:
        report(initiative).states[status] += count

    sent = session.execute(
        select(Piece.initiative, Delivery.external_id, Delivery.target_ref, Delivery.created_at)
        .join(Piece, Piece.id == Delivery.piece_id)
        .where(Piece.campaign == campaign, Delivery.channel == "email")
    ).all()
    by_message: dict[str, str] = {}
    first_mail: dict[int, tuple[str, datetime]] = {}
    for initiative, external_id, target_ref, created_at in sent:
        if external_id:
            by_message[external_id.strip()] = initiative
        prefix, _, number = (target_ref or "").partition(":")
        if prefix == "subscriber" and number.isdigit():
            known = first_mail.get(int(number))
            if known is None or created_at < known[1]:
                first_mail[int(number)] = (initiative, created_at)

    ids = sorted(by_message)
    for start in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(BounceRecord.original_message_id, BounceRecord.kind).where(
                BounceRecord.original_message_id.in_(ids[start : start + _CHUNK])
            )
        )
        for message_id, kind in rows:
            initiative = by_message[message_id or ""]
            if kind == "hard":
                report(initiative).bounced += 1
            elif kind == "complaint":
                report(initiative).complained += 1

    subscriber_ids = sorted(first_mail)
    for start in range(0, len(subscriber_ids), _CHUNK):
        rows2 = session.execute(
            select(Subscriber.id, Subscriber.unsubscribed_at).where(
                Subscriber.id.in_(subscriber_ids[start : start + _CHUNK]),
                Subscriber.status == UNSUBSCRIBED,
            )
        )
        for subscriber_id, unsubscribed_at in rows2:
            initiative, first = first_mail[subscriber_id]
            if unsubscribed_at is not None and unsubscribed_at >= first:
                report(initiative).unsubscribed += 1
    return [reports[name] for name in sorted(reports)]
