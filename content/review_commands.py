"""``depesche review list|show|approve|reject|comment`` and ``depesche pause|resume|cancel``.

Mounted on the root command by ``config/cli.py``. Reads the clock only here, at the edge (or
takes ``--now``); every error is one line on stderr and exit code 1.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.controls import ControlError, control
from campaigns.workspace import Workspace, WorkspaceInvalid, load_workspace
from config.db import session_scope
from config.migrate import upgrade
from config.settings import Settings, configure, load_settings
from content.models import Piece
from content.review import (
    STATES,
    ReviewError,
    approvals,
    approve,
    comment,
    comments,
    find_piece,
    history,
    hold_reason,
    mark_stale,
    pending_levels,
    reject,
    shown,
)

review_app = typer.Typer(
    help="Review pieces: list, show, approve, reject, comment.", no_args_is_help=True
)
console = Console()

WorkspaceOption = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help="Workspace folder (default: $DEPESCHE_WORKSPACE or .)"),
]
NowOption = Annotated[
    str | None, typer.Option("--now", help="Clock for replays and tests (ISO)", hidden=True)
]
ByOption = Annotated[str, typer.Option("--by", help="Who does it (kept in the event log)")]


def _fail(message: str) -> typer.Exit:
    """One line on stderr, never wrapped, and the exit code 1 for the caller to raise."""
    typer.echo(message, err=True)
    return typer.Exit(1)


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _fail(f"--now: {value!r} is not an ISO date-time") from None
    if parsed.tzinfo is None:
        raise _fail(f"--now: {value!r} has no UTC offset; write e.g. 2026-11-16T08:00+01:00")
    return parsed.astimezone(UTC)


def _settings(workspace: Path | None) -> Settings:
    settings = load_settings(workspace)
    configure(settings)
    upgrade(settings.resolved_database_url)
    return settings


def _workspace(settings: Settings) -> Workspace:
    try:
        return load_workspace(settings.workspace)
    except WorkspaceInvalid as exc:
        first = exc.problems[0] if exc.problems else "unknown problem"
        raise _fail(f"workspace invalid ({first}); run `depesche validate`") from None


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    """A unit of work whose review and control errors end the command with one line."""
    try:
        with session_scope(settings.resolved_database_url) as session:
            yield session
    except (ReviewError, ControlError) as exc:
        raise _fail(str(exc)) from None


def _record(session: Session, piece: Piece, workspace: Workspace, now: datetime) -> dict[str, Any]:
    pending = pending_levels(session, piece) if piece.state == "draft" else ()
    return {
        "id": piece.id,
        "key": piece.key,
        "state": piece.state,
        "waiting_for": pending[0] if pending else None,
        "initiative": piece.initiative,
        "campaign": piece.campaign,
        "deliverable": piece.deliverable,
        "kind": piece.kind,
        "platform": piece.platform,
        "send_at": piece.send_at.isoformat() if piece.send_at else None,
        "embargo_until": piece.embargo_until.isoformat() if piece.embargo_until else None,
        "hold": hold_reason(session, piece, workspace, now),
    }


@review_app.command("list")
def list_command(
    state: Annotated[
        str | None, typer.Option(help=f"Only this state ({', '.join(STATES)})")
    ] = None,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign")] = None,
    initiative: Annotated[str | None, typer.Option(help="Only this initiative")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines")] = False,
    workspace: WorkspaceOption = None,
    now: NowOption = None,
) -> None:
    """List pieces with their state, the level they wait for, and why they are held."""
    if state is not None and state not in STATES:
        raise _fail(f"--state: unknown state {state!r}; use one of {', '.join(STATES)}")
    clock = _now(now)
    settings = _settings(workspace)
    ws = _workspace(settings)
    query = select(Piece).order_by(Piece.id)
    if state is not None:
        query = query.where(Piece.state == state)
    if campaign is not None:
        query = query.where(Piece.campaign == campaign)
    if initiative is not None:
        query = query.where(Piece.initiative == initiative)
    with _session(settings) as session:
        records = [_record(session, p, ws, clock) for p in session.scalars(query)]
    if as_json:
        for record in records:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    table = Table("id", "state", "initiative", "campaign", "kind", "waiting for", "hold")
    for r in records:
        kind = f"{r['kind']}/{r['platform']}" if r["platform"] else r["kind"]
        table.add_row(
            str(r["id"]),
            r["state"],
            r["initiative"],
            r["campaign"],
            kind,
            r["waiting_for"] or "",
            r["hold"] or "",
        )
    console.print(table)


@review_app.command("show")
def show_command(
    piece: Annotated[str, typer.Argument(help="Piece id or key")],
    workspace: WorkspaceOption = None,
    now: NowOption = None,
) -> None:
    """A piece's state, its history (who, when), comments, files and why it is held."""
    clock = _now(now)
    settings = _settings(workspace)
    ws = _workspace(settings)
    with _session(settings) as session:
        found = find_piece(session, piece)
        record = _record(session, found, ws, clock)
        moves = history(session, found)
        levels = approvals(session, found)
        remarks = comments(session, found)
        files = [(f.name, f.media_type, len(f.content)) for f in found.files]
    console.print(f"[bold]piece {record['id']}[/bold] {record['key']}", highlight=False)
    for label in ("state", "waiting_for", "initiative", "campaign", "deliverable", "kind"):
        if record[label]:
            console.print(f"  {label.replace('_', ' ')}: {record[label]}", highlight=False)
    if found.send_at:
        console.print(f"  send at: {shown(found.send_at)}", highlight=False)
    if found.embargo_until:
        console.print(f"  embargo until: {shown(found.embargo_until)}", highlight=False)
    console.print(f"  hold: {record['hold'] or 'none: may be delivered now'}", highlight=False)
    console.print("history:")
    # Approvals and moves in the order they happened (a level's approval before the move it made).
    entries = [(a.at, 0, a.id, f"level {a.level} approved by {a.actor}") for a in levels] + [
        (
            m.at,
            1,
            m.seq,
            f"{m.from_state} -> {m.to_state}  by {m.actor}" + (f" ({m.note})" if m.note else ""),
        )
        for m in moves
    ]
    for at, _, _, text in sorted(entries):
        console.print(f"  {shown(at)}  {text}", highlight=False, markup=False)
    console.print("comments:" if remarks else "comments: none")
    for remark in remarks:
        console.print(
            f"  {shown(remark.at)}  {remark.actor}: {remark.text}", highlight=False, markup=False
        )
    console.print("files:")
    for name, media_type, size in files:
        console.print(f"  {name}  {media_type}  {size} bytes", highlight=False, markup=False)


@review_app.command("approve")
def approve_command(
    piece: Annotated[str, typer.Argument(help="Piece id or key")],
    by: ByOption,
    level: Annotated[
        str | None, typer.Option(help="Review level (default: the next one due)")
    ] = None,
    note: Annotated[str | None, typer.Option(help="A note kept with the approval")] = None,
    workspace: WorkspaceOption = None,
    now: NowOption = None,
) -> None:
    """Approve a piece at its next level (or --level); the last level approves the piece."""
    clock = _now(now)
    settings = _settings(workspace)
    with _session(settings) as session:
        found = find_piece(session, piece)
        state = approve(session, found, actor=by, now=clock, level=level, note=note)
        pending = pending_levels(session, found) if state == "draft" else ()
        key = found.key
    waiting = f", waits for level {pending[0]}" if pending else ""
    console.print(f"{key}: {state}{waiting}", highlight=False, markup=False)


@review_app.command("reject")
def reject_command(
    piece: Annotated[str, typer.Argument(help="Piece id or key")],
    by: ByOption,
    reason: Annotated[str, typer.Option(help="Why (kept with the rejection)")],
    workspace: WorkspaceOption = None,
    now: NowOption = None,
) -> None:
    """Reject a piece for good: it is never sent."""
    clock = _now(now)
    settings = _settings(workspace)
    with _session(settings) as session:
        found = find_piece(session, piece)
        reject(session, found, actor=by, now=clock, reason=reason)
        key = found.key
    console.print(f"{key}: rejected", highlight=False, markup=False)


@review_app.command("comment")
def comment_command(
    piece: Annotated[str, typer.Argument(help="Piece id or key")],
    text: Annotated[str, typer.Argument(help="The comment")],
    by: ByOption,
    workspace: WorkspaceOption = None,
    now: NowOption = None,
) -> None:
    """Add a comment to a piece."""
    clock = _now(now)
    settings = _settings(workspace)
    with _session(settings) as session:
        found = find_piece(session, piece)
        comment(session, found, actor=by, text=text, now=clock)
        key = found.key
    console.print(f"{key}: comment added", highlight=False, markup=False)


@review_app.command("mark-stale")
def mark_stale_command(workspace: WorkspaceOption = None, now: NowOption = None) -> None:
    """Mark unsent pieces whose campaign file changed since composition as stale."""
    clock = _now(now)
    settings = _settings(workspace)
    ws = _workspace(settings)
    with _session(settings) as session:
        count = mark_stale(session, ws, clock)
    console.print(f"{count} pieces marked stale")


def _control(action: str, campaign: str, by: str | None, note: str | None, **rest: Any) -> None:
    clock = _now(rest["now"])
    settings = _settings(rest["workspace"])
    ws = _workspace(settings)
    with _session(settings) as session:
        result = control(
            session,
            campaign,
            action,
            actor=by or getpass.getuser(),
            now=clock,
            known=frozenset(ws.campaigns),
            note=note,
        )
    console.print(f"campaign {campaign}: {result.state}", highlight=False, markup=False)


CampaignArg = Annotated[str, typer.Argument(help="Campaign name (its file name without .yaml)")]
ActorOption = Annotated[str | None, typer.Option("--by", help="Who does it (default: $USER)")]
NoteOption = Annotated[str | None, typer.Option(help="Why (kept in the event log)")]


def pause_command(
    campaign: CampaignArg,
    by: ActorOption = None,
    note: NoteOption = None,
    workspace: WorkspaceOption = None,
    now: NowOption = None,
) -> None:
    """Pause a campaign: nothing of it is sent until `depesche resume`."""
    _control("pause", campaign, by, note, workspace=workspace, now=now)


def resume_command(
    campaign: CampaignArg,
    by: ActorOption = None,
    note: NoteOption = None,
    workspace: WorkspaceOption = None,
    now: NowOption = None,
) -> None:
    """Resume a paused campaign: its held pieces go out when due."""
    _control("resume", campaign, by, note, workspace=workspace, now=now)


def cancel_command(
    campaign: CampaignArg,
    by: ActorOption = None,
    note: NoteOption = None,
    workspace: WorkspaceOption = None,
    now: NowOption = None,
) -> None:
    """Cancel a campaign for good: none of its pieces is sent any more."""
    _control("cancel", campaign, by, note, workspace=workspace, now=now)
