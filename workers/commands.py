"""``depesche events``: the outbox as an audit trail, newest first.

Mounted by the root command (``config/cli.py``); it resolves settings like every other command
and brings the database to the newest schema first.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from config.db import session_scope
from config.migrate import upgrade
from config.models import Event
from config.settings import configure, load_settings

console = Console()


def event_record(event: Event) -> dict[str, Any]:
    """The JSON-lines contract: id, type, key, occurred_at, dispatched_at (or null), payload."""
    return {
        "id": event.id,
        "type": event.type,
        "key": event.key,
        "occurred_at": event.occurred_at.isoformat(),
        "dispatched_at": event.dispatched_at.isoformat() if event.dispatched_at else None,
        "payload": event.payload,
    }


def recent_events(database_url: str, *, type_: str | None, limit: int) -> list[dict[str, Any]]:
    query = select(Event).order_by(Event.id.desc()).limit(limit)
    if type_ is not None:
        query = query.where(Event.type == type_)
    with session_scope(database_url) as session:
        return [event_record(event) for event in session.scalars(query)]


def events(
    workspace: Annotated[
        Path, typer.Argument(help="Workspace folder (default: $DEPESCHE_WORKSPACE or .)")
    ] = Path("."),
    type_: Annotated[
        str | None, typer.Option("--type", help="Only this event type, e.g. item.published")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines")] = False,
) -> None:
    """List recent events (newest first): what happened, and whether it was dispatched yet."""
    settings = load_settings(workspace)
    configure(settings)
    upgrade(settings.resolved_database_url)
    records = recent_events(settings.resolved_database_url, type_=type_, limit=limit)
    if as_json:
        for record in records:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    table = Table("id", "occurred (UTC)", "type", "key", "dispatched (UTC)")
    for record in records:
        table.add_row(
            str(record["id"]),
            record["occurred_at"][:19],
            record["type"],
            record["key"],
            (record["dispatched_at"] or "pending")[:19],
        )
    console.print(table)
