"""Which deliveries an approved piece gets: one row per (piece, channel, target), once.

The deliverable's ``channels:`` list names the ways out. ``folder`` gets no row: the folder
output is written when the piece is composed (``workers/execution.py``), so there is nothing
left to send. Every other channel yields targets:

- ``email``: the initiative's confirmed subscribers of the piece's audience;
- ``press``: the initiative's press list, one personal mail per journalist, held until the
  Sperrfrist (the press release's ``embargo``);
- ``mastodon``, ``bluesky``: the initiative's account, for the piece written for that platform;
- ``webhook``: the initiative's webhook;
- ``pack``: the slot's content pack, once per slot and initiative (not per piece), to the
  initiative's webhook when it has one, else by mail to its press contact; routed when the
  last piece of the slot is approved, so the pack holds only what may go out.

A delivery's key is ``piece key|channel|target ref`` (the pack's uses the slot instead of the
piece) and the table is unique on it: routing twice, or two routers at once, insert nothing new.
``due_at`` is the later of now and the piece's send time or embargo. The piece moves to
``scheduled`` once its rows exist, or to ``delivered`` at once when it needs none (folder only).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from campaigns.schema import Initiative, PressReleaseDeliverable
from campaigns.triggers import resolve_instant
from campaigns.workspace import Workspace
from content.models import Piece
from workers.delivery_hooks import RecipientSource, transition
from workers.models import PENDING, Delivery

log = logging.getLogger(__name__)

FOLDER = "folder"
SOCIAL = frozenset({"mastodon", "bluesky"})
KNOWN_CHANNELS = frozenset({FOLDER, "email", "press", "webhook", "pack", *SOCIAL})
# Pieces past these states were routed (or never will be); routing leaves them alone.
ROUTABLE = "approved"


class RoutingError(ValueError):
    """A deliverable asks for something the workspace cannot give; names what to fix."""


@dataclass(frozen=True)
class Target:
    channel: str
    target: str
    ref: str
    options: dict[str, str] = field(default_factory=dict)


def delivery_key(piece_key: str, channel: str, ref: str) -> str:
    return f"{piece_key}|{channel}|{ref}"


def pack_key(piece: Piece, ref: str) -> str:
    """One pack per slot and initiative, whichever of the slot's pieces routes it."""
    return delivery_key(f"{piece.slot_key}/{piece.initiative}", "pack", ref)


def _webhook_url(initiative: Initiative) -> str | None:
    """The initiative's webhook, as the webhook work declares it (a URL or an object with one)."""
    hook: Any = getattr(initiative.channels, "webhook", None)
    if hook is None:
        return None
    url = hook if isinstance(hook, str) else getattr(hook, "url", None)
    return str(url) if url else None


def _sender_options(initiative: Initiative) -> dict[str, str]:
    options = {"from_name": initiative.name, "from_address": initiative.sender.email}
    if initiative.sender.reply_to:
        options["reply_to"] = initiative.sender.reply_to
    return options


def _where(piece: Piece, channel: str) -> str:
    return f"campaigns/{piece.campaign}.yaml: deliverables.{piece.deliverable}.channels: {channel}"


def targets_for(
    session: Session,
    piece: Piece,
    channel: str,
    initiative: Initiative,
    recipients: RecipientSource,
) -> list[Target]:
    """The targets of one channel for ``piece`` (an empty list when the channel does not apply)."""
    if channel == "email":
        audience = piece.provenance.get("audience")
        return [
            Target(
                "email",
                r.address,
                r.ref,
                # No display name in To: a bare address is the SMTP channel's fast path, and a
                # digest to thousands is no personal letter (the press mail is; it names them).
                {
                    k: v
                    for k, v in {
                        "unsubscribe_url": r.unsubscribe_url,
                        "audience": r.audience,
                    }.items()
                    if v
                },
            )
            for r in recipients.email_recipients(session, piece.initiative, audience)
        ]
    if channel == "press":
        if piece.kind != "press_release":
            raise RoutingError(f"{_where(piece, channel)}: only a press_release goes to the press")
        return [
            Target(
                "press",
                r.address,
                r.ref,
                {**_sender_options(initiative), **({"to_name": r.name} if r.name else {})},
            )
            for r in recipients.press_recipients(session, piece.initiative)
        ]
    if channel in SOCIAL:
        if piece.platform != channel:
            return []  # the social deliverable made one piece per platform; this is another's
        account = getattr(initiative.channels, channel, None)
        if account is None:
            raise RoutingError(
                f"{_where(piece, channel)}: initiative {initiative.slug} has no "
                f"channels.{channel} in initiatives.yaml"
            )
        # Shown to the operator only; the channel module builds the connection from the
        # initiative itself (``channel_for(initiative, settings)``).
        server = getattr(account, "instance", None) or getattr(account, "handle", None)
        return [Target(channel, str(server or initiative.slug), f"account:{initiative.slug}")]
    if channel == "webhook":
        url = _webhook_url(initiative)
        if url is None:
            raise RoutingError(
                f"{_where(piece, channel)}: initiative {initiative.slug} has no "
                "channels.webhook in initiatives.yaml"
            )
        return [Target("webhook", url, f"webhook:{initiative.slug}")]
    if channel == "pack":
        url = _webhook_url(initiative)
        if url is not None:
            return [Target("pack", url, f"webhook:{initiative.slug}", {"via": "webhook"})]
        return [
            Target(
                "pack",
                initiative.press_contact.email,
                f"contact:{initiative.slug}",
                {"via": "email", "to_name": initiative.press_contact.name,
                 **_sender_options(initiative)},
            )
        ]  # fmt: skip
    raise RoutingError(
        f"{_where(piece, channel)}: unknown channel; use one of {', '.join(sorted(KNOWN_CHANNELS))}"
    )


def not_before(piece: Piece, workspace: Workspace) -> datetime | None:
    """The piece's own send time or embargo (the review work's columns) or the Sperrfrist."""
    instants = [value for value in (piece.send_at, piece.embargo_until) if value is not None]
    campaign = workspace.campaigns.get(piece.campaign)
    if campaign is not None:
        for deliverable in campaign.deliverables:
            if (
                deliverable.id == piece.deliverable
                and isinstance(deliverable, PressReleaseDeliverable)
                and deliverable.embargo is not None
            ):
                instants.append(resolve_instant(deliverable.embargo, campaign))
    return max(instants) if instants else None


@dataclass(frozen=True)
class Routed:
    piece: str
    created: int
    existing: int
    state: str


def _insert_missing(session: Session, piece: Piece, rows: list[dict[str, Any]]) -> int:
    """Insert rows whose key is new; a concurrent router's rows are skipped, not an error."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    before = _count(session, piece)
    statement = insert(Delivery).on_conflict_do_nothing(index_elements=["key"])
    session.execute(statement, rows)  # executemany: one statement, compiled once
    return _count(session, piece) - before


def _count(session: Session, piece: Piece) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.piece_id == piece.id)
        )
        or 0
    )


def _slot_pieces(session: Session, piece: Piece) -> list[Piece]:
    return list(
        session.scalars(
            select(Piece).where(
                Piece.slot_key == piece.slot_key, Piece.initiative == piece.initiative
            )
        )
    )


def route_piece(
    session: Session,
    workspace: Workspace,
    piece: Piece,
    recipients: RecipientSource,
    *,
    now: datetime,
) -> Routed:
    """Create the piece's deliveries (those that do not exist yet) and schedule the piece."""
    if piece.state != ROUTABLE:
        return Routed(piece.key, 0, 0, piece.state)
    initiative = workspace.initiatives.get(piece.initiative)
    campaign = workspace.campaigns.get(piece.campaign)
    deliverable = next(
        (d for d in campaign.deliverables if d.id == piece.deliverable), None
    ) if campaign is not None else None  # fmt: skip
    if initiative is None or deliverable is None:
        raise RoutingError(
            f"piece {piece.key}: initiative {piece.initiative!r} or deliverable "
            f"{piece.campaign}/{piece.deliverable} is no longer in the workspace"
        )
    due = max(now, not_before(piece, workspace) or now)
    rows: list[dict[str, Any]] = []
    for channel in dict.fromkeys(deliverable.channels):
        if channel == FOLDER:
            continue
        if channel == "pack" and any(
            p.state in ("draft", "rejected", "stale") for p in _slot_pieces(session, piece)
        ):
            continue  # the slot's last approval routes the pack
        for target in targets_for(session, piece, channel, initiative, recipients):
            key = (
                pack_key(piece, target.ref)
                if channel == "pack"
                else delivery_key(piece.key, channel, target.ref)
            )
            rows.append(
                {
                    "key": key,
                    "piece_id": piece.id,
                    "channel": channel,
                    "target": target.target,
                    "target_ref": target.ref,
                    "options": target.options,
                    "status": PENDING,
                    "attempts": 0,
                    "due_at": due,
                    "created_at": now,
                }
            )
    created = _insert_missing(session, piece, rows)
    has_rows = session.scalar(select(Delivery.id).where(Delivery.piece_id == piece.id).limit(1))
    transition(session, piece, "scheduled", now=now)
    if has_rows is None:  # folder only: written at composition, nothing left to send
        transition(session, piece, "delivered", now=now)
    log.info("piece %s: %d deliveries created, %d existed", piece.key, created, len(rows) - created)
    return Routed(piece.key, created, len(rows) - created, piece.state)


def route_approved(
    session: Session,
    workspace: Workspace,
    recipients: RecipientSource,
    *,
    now: datetime,
    keys: Iterable[str] | None = None,
) -> list[Routed]:
    """Route approved pieces (those named by ``keys``, or every approved one)."""
    query = select(Piece).where(Piece.state == ROUTABLE).order_by(Piece.id)
    if keys is not None:
        query = query.where(Piece.key.in_(list(keys)))
    return [
        route_piece(session, workspace, piece, recipients, now=now)
        for piece in session.scalars(query)
    ]
