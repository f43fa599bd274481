"""``depesche feeds``: feed health as a table, one feed diagnosed, a paused feed resumed.

The root command (``config/cli.py``) mounts :data:`feeds_app`. Like every command, these
resolve settings and read the clock here, at the edge, and hand both to the domain functions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from campaigns.workspace import Workspace, WorkspaceInvalid, load_workspace
from config.db import session_scope
from config.migrate import upgrade
from config.models import record_event
from config.settings import configure, load_settings
from content.feeds.clusters import clusters
from content.feeds.diagnose import Diagnosis, diagnose
from content.models import FeedState

FEED_RESUMED = "feed.resumed"

feeds_app = typer.Typer(
    help="Feeds: health table (no subcommand), check one URL, resume a paused feed.",
    invoke_without_command=True,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)

WorkspaceOption = Annotated[Path, typer.Option("--workspace", "-w", help="Workspace folder")]


def _now() -> datetime:
    """The wall clock, read here at the edge and passed down."""
    return datetime.now(UTC)


def _instant(value: str | None) -> datetime:
    if value is None:
        return _now()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO date-time", param_hint="--now") from None
    if parsed.tzinfo is None:
        raise typer.BadParameter(f"{value!r} has no UTC offset", param_hint="--now")
    return parsed.astimezone(UTC)


def _workspace(root: Path) -> Workspace:
    try:
        return load_workspace(root)
    except WorkspaceInvalid as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False, highlight=False)
        raise typer.Exit(1) from None


def _database(root: Path) -> str:
    settings = load_settings(root)
    configure(settings)
    upgrade(settings.resolved_database_url)
    return settings.resolved_database_url


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else ""


@feeds_app.callback()
def health(ctx: typer.Context, workspace: WorkspaceOption = Path(".")) -> None:
    """Show every feed's health: last success, last error, failures, next fetch, pause."""
    if ctx.invoked_subcommand is not None:
        return
    ws = _workspace(workspace)
    database_url = _database(workspace)
    zone = ZoneInfo(ws.config.workspace.timezone)
    with session_scope(database_url) as session:
        states = {state.id: state for state in session.scalars(select(FeedState))}
    table = Table(
        "feed",
        "status",
        "last success",
        "failures",
        "next fetch",
        "last error or problem",
        title=f"Feeds ({zone.key})",
    )
    for feed_id in [*ws.feeds, *sorted(set(states) - set(ws.feeds))]:
        state = states.get(feed_id)
        if state is None:
            table.add_row(feed_id, "never fetched", "", "0", "", "")
            continue
        status = state.last_status or ""
        if state.paused_at is not None:
            status = f"[red]paused[/red] {_local(state.paused_at, zone)}"
        elif state.consecutive_failures:
            status = f"[yellow]{status}[/yellow]"
        if feed_id not in ws.feeds:
            status += " (not in feeds.yaml)"
        note = state.last_error or state.last_problem or ""
        if state.fetch_url:
            note = f"moved permanently to {state.fetch_url}; {note}".rstrip("; ")
        table.add_row(
            feed_id,
            status,
            _local(state.last_success_at, zone),
            str(state.consecutive_failures or 0),
            _local(state.next_fetch_at, zone),
            note,
        )
    console.print(table)


@feeds_app.command()
def check(
    url: Annotated[str, typer.Argument(help="Feed URL (or a path in the workspace)")],
    workspace: WorkspaceOption = Path("."),
    now: Annotated[str | None, typer.Option(help="Clock for future-date checks (ISO)")] = None,
) -> None:
    """Fetch and parse one feed as ingestion would, report what was found, store nothing."""
    ws = _workspace(workspace)
    result = diagnose(url, base_dir=ws.root, now=_instant(now), fetch=ws.config.fetch)
    _report(result)
    if not result.ok:
        raise typer.Exit(1)


def _report(result: Diagnosis) -> None:
    lines = [
        ("URL", result.url),
        ("fetched from", result.final_url or ""),
        ("moved permanently to", result.permanent_url or ""),
        ("HTTP status", str(result.status) if result.status else ""),
        *((name, value) for name, value in result.headers.items()),
        ("bytes", str(result.size) if result.ok or result.size else ""),
        ("title", result.title or ""),
        ("entries", str(result.entries) if result.ok else ""),
        ("dated in the future", str(result.future_dates) if result.future_dates else ""),
        ("near-duplicates", str(result.near_duplicates) if result.near_duplicates else ""),
        ("problem", result.problem or ""),
    ]
    for name, value in lines:
        if value:
            console.print(f"{name}: {value}", markup=False, highlight=False)
    if result.error:
        err.print(f"error: {result.error}", markup=False, highlight=False)
        return
    console.print(f"[green]ok[/green]: {result.entries} entries could be ingested")
    if result.samples:
        table = Table("published (UTC)", "title", "link")
        for item in result.samples:
            table.add_row(item.published.strftime("%Y-%m-%d %H:%M"), item.title, item.link)
        console.print(table)


@feeds_app.command()
def resume(
    feed_id: Annotated[str, typer.Argument(help="The feed's id in feeds.yaml")],
    workspace: WorkspaceOption = Path("."),
) -> None:
    """Resume a paused feed: its failures are forgiven and it is fetched on the next run."""
    database_url = _database(workspace)
    now = _now()
    with session_scope(database_url) as session:
        state = session.get(FeedState, feed_id)
        if state is None:
            err.print(f"{feed_id}: no such feed has been fetched yet")
            raise typer.Exit(1)
        was_paused = state.paused_at
        state.paused_at = None
        state.consecutive_failures = 0
        state.next_fetch_at = None
        if was_paused is not None:
            record_event(
                session,
                FEED_RESUMED,
                f"{FEED_RESUMED}:{feed_id}:{now.isoformat()}",
                {"feed_id": feed_id, "paused_at": was_paused.isoformat()},
                now,
            )
    console.print(f"{feed_id}: resumed" if was_paused else f"{feed_id}: was not paused")


@feeds_app.command("clusters")
def list_clusters(
    workspace: WorkspaceOption = Path("."),
    limit: Annotated[int, typer.Option(help="Show at most this many")] = 20,
) -> None:
    """List stories that several outlets carried, with every source."""
    database_url = _database(workspace)
    table = Table("story", "items", "feeds", "links")
    with session_scope(database_url) as session:
        for cluster in clusters(session)[:limit]:
            table.add_row(
                cluster.first.title,
                str(len(cluster.items)),
                ", ".join(cluster.feeds),
                "\n".join(source.link for source in cluster.sources),
            )
    console.print(table)
