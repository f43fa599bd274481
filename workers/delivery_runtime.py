"""Delivery wired to a deployment: channels from settings, the ``piece.approved`` handler, and
the release step that beat's task and ``depesche run`` (embedded) call.

Routing reacts to ``piece.approved`` through the event outbox rather than a poll of its own:
the review work writes that event in the transaction that approves the piece, so the handler
runs at least once within seconds, and routing is idempotent (unique delivery keys). The
release step still routes any approved piece left without deliveries (a handler that failed on
a workspace error, fixed since), so nothing approved is forgotten.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from config.db import session_scope
from config.settings import Settings
from content.models import Piece
from workers.channels.base import Channel, TransientError
from workers.delivery import Channels, Clock, ReleaseReport, release
from workers.delivery_hooks import RecipientSource, SubscriberLists
from workers.execution import workspace_for
from workers.handlers import EventContext, EventRecord, subscribe
from workers.routing import RoutingError, route_approved

log = logging.getLogger(__name__)

PIECE_APPROVED = "piece.approved"
# Channels built per initiative by their own module's ``channel_for(initiative, settings)``.
INITIATIVE_CHANNELS = ("mastodon", "bluesky", "webhook")


def _initiative_factory(kind: str, settings: Settings) -> Callable[[str], Channel] | None:
    try:
        module = importlib.import_module(f"workers.channels.{kind}")
    except ModuleNotFoundError:
        return None
    channel_for: Any = getattr(module, "channel_for", None)
    if not callable(channel_for):
        return None

    def build(initiative: str) -> Channel:
        workspace = workspace_for(settings.workspace)
        if initiative not in workspace.initiatives:
            raise TransientError(f"initiative {initiative} is not in the workspace")
        try:
            channel: Channel = channel_for(workspace.initiatives[initiative], settings)
        except Exception as exc:  # ChannelNotReady: a missing URL or secret the operator sets
            raise TransientError(f"{kind} for {initiative} not ready: {exc}") from None
        return channel

    return build


def channels_from_settings(settings: Settings) -> Channels:
    """SMTP from ``DEPESCHE_SMTP_URL``; the others from their modules, when installed."""
    mail: Channel | None = None
    if settings.smtp_url:
        from workers.channels.smtp import SmtpChannel

        mail = SmtpChannel.from_url(settings.smtp_url, settings=settings)
    factories = {
        kind: factory
        for kind in INITIATIVE_CHANNELS
        if (factory := _initiative_factory(kind, settings)) is not None
    }
    return Channels(mail=mail, factories=factories)


def route_pending(
    database_url: str,
    workspace_root: Path,
    *,
    now: datetime,
    recipients: RecipientSource | None = None,
    keys: list[str] | None = None,
) -> int:
    """Route approved pieces (those named, or all); returns the deliveries created."""
    workspace = workspace_for(workspace_root)
    source = recipients if recipients is not None else SubscriberLists()
    created = 0
    with session_scope(database_url) as session:
        query = select(Piece.key).where(Piece.state == "approved")
        if keys is not None:
            query = query.where(Piece.key.in_(keys))
        pending = list(session.scalars(query))
    for key in pending:  # one transaction per piece: a broken one does not hold up the rest
        try:
            with session_scope(database_url) as session:
                for routed in route_approved(session, workspace, source, now=now, keys=[key]):
                    created += routed.created
        except RoutingError as exc:
            log.error("cannot route %s: %s", key, exc)
    return created


def release_now(
    settings: Settings, *, clock: Clock, recipients: RecipientSource | None = None
) -> ReleaseReport:
    """Route what is approved, then send what is due: the beat tick and the embedded run."""
    route_pending(
        settings.resolved_database_url, settings.workspace, now=clock(), recipients=recipients
    )
    return release(
        settings.resolved_database_url,
        workspace_for(settings.workspace),
        channels_from_settings(settings),
        clock=clock,
        recipients=recipients,
        lease=timedelta(seconds=settings.delivery_lease),
        chunk=settings.delivery_chunk,
    )


@subscribe(PIECE_APPROVED)
def route_approved_piece(context: EventContext, event: EventRecord) -> None:
    """Create the approved piece's deliveries; the next release step sends them."""
    key = event.payload.get("piece")
    if not isinstance(key, str):
        log.warning("event %s names no piece key; nothing to route", event.id)
        return
    route_pending(context.database_url, context.workspace_root, now=context.now, keys=[key])
