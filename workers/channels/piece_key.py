"""What a piece's key says about it: campaign, slot and, for scheduled slots, the due time.

A piece key is ``<campaign>/<slot folder>/<initiative>/<kind>[/<platform>][/<audience>]``
(``content.assembly.piece_key``), and a scheduled slot's folder ends in its UTC instant
(``<deliverable>-YYYYMMDDTHHMMZ``, ``campaigns.planner.schedule_folder``). Channels read these
when the caller did not put them into ``Outgoing.options``, so a webhook always names campaign
and slot, and Bluesky record keys follow the slot's time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

_INSTANT = re.compile(r"-(\d{8}T\d{4}Z)$")


@dataclass(frozen=True)
class PieceOrigin:
    campaign: str | None
    slot: str | None  # the slot key: "<campaign>/<folder>"
    due_at: datetime | None


def origin_of(piece_key: str, initiative: str) -> PieceOrigin:
    """Campaign, slot key and due time of a piece key; None for what the key does not tell."""
    slot, found, _ = piece_key.partition(f"/{initiative}/")
    if not found or slot.count("/") != 1:
        return PieceOrigin(None, None, None)
    campaign, folder = slot.split("/")
    match = _INSTANT.search(folder)
    due_at = None
    if match is not None:
        due_at = datetime.strptime(match[1], "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
    return PieceOrigin(campaign, slot, due_at)
