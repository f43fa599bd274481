"""Pause, resume and cancel a campaign: the operator's brake on everything it still has to send.

A control only records the campaign's state; delivery asks for it before every send (through
``content.review.hold_reason``), so a pause takes effect at once, also for pieces already
scheduled. Cancelling is final: a cancelled campaign's pieces are never sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from campaigns.models import CampaignControl
from config.models import record_event

ACTIVE, PAUSED, CANCELLED = "active", "paused", "cancelled"
# action -> (states it may start from, state it leads to, event type)
_ACTIONS = {
    "pause": ((ACTIVE,), PAUSED, "campaign.paused"),
    "resume": ((PAUSED,), ACTIVE, "campaign.resumed"),
    "cancel": ((ACTIVE, PAUSED), CANCELLED, "campaign.cancelled"),
}


class ControlError(Exception):
    """An action that does not fit the campaign's state (resume an active one, touch a
    cancelled one, name an unknown campaign)."""


@dataclass(frozen=True)
class ControlState:
    campaign: str
    state: str
    actor: str | None = None
    changed_at: datetime | None = None
    note: str | None = None


def control_state(session: Session, campaign: str) -> ControlState:
    """The campaign's control; a campaign nobody paused or cancelled is ``active``."""
    row = session.get(CampaignControl, campaign)
    if row is None:
        return ControlState(campaign, ACTIVE)
    return ControlState(campaign, row.state, row.actor, row.changed_at, row.note)


def control(
    session: Session,
    campaign: str,
    action: str,
    *,
    actor: str,
    now: datetime,
    known: frozenset[str] | None = None,
    note: str | None = None,
) -> ControlState:
    """Apply ``pause``, ``resume`` or ``cancel``; record its event in the caller's transaction.

    Repeating an action whose result already holds (pause a paused campaign) changes nothing and
    records nothing, so a retried command is harmless. ``known`` are the workspace's campaigns.
    """
    if action not in _ACTIONS:
        raise ControlError(f"unknown action {action!r}: use pause, resume or cancel")
    if known is not None and campaign not in known:
        names = ", ".join(sorted(known)) or "none"
        raise ControlError(f"campaign {campaign!r} is not in the workspace (campaigns: {names})")
    sources, target, event_type = _ACTIONS[action]
    row = session.get(CampaignControl, campaign)
    current = row.state if row is not None else ACTIVE
    if current == target:
        return control_state(session, campaign)
    if current not in sources:
        raise ControlError(f"campaign {campaign!r} is {current}; it cannot be {action}d")
    if row is None:
        row = CampaignControl(campaign=campaign, state=target, version=1, actor=actor)
        session.add(row)
    else:
        row.state, row.version, row.actor = target, row.version + 1, actor
    row.note, row.changed_at = note, now
    session.flush()
    record_event(
        session,
        event_type,
        f"{event_type}:{campaign}:{row.version}",
        {"campaign": campaign, "actor": actor, "note": note, "from": current, "to": target},
        now,
    )
    return control_state(session, campaign)
