"""``depesche preview``: one piece rendered on the spot, printed or opened, never stored.

Mounted on the root command by ``config/cli.py``. Reads the clock only to pick a default instant.
"""

from __future__ import annotations

import tempfile
import webbrowser
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from config.migrate import upgrade
from config.settings import configure, load_settings

if TYPE_CHECKING:
    from content.composers.base import ComposedPiece, FileData
    from content.preview import Preview

console = Console()
err = Console(stderr=True)
# The form printed to the terminal, best first.
_PRINTED = ("text/markdown", "text/plain")


def _instant(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO date-time", param_hint="--at") from None
    if parsed.tzinfo is None:
        raise typer.BadParameter(
            f"{value!r} has no UTC offset; write e.g. 2026-11-16T08:00+01:00", param_hint="--at"
        )
    return parsed.astimezone(UTC)


def _label(piece: ComposedPiece) -> str:
    return " / ".join(p for p in (piece.kind, piece.platform, piece.audience) if p)


def _printed(piece: ComposedPiece) -> FileData | None:
    for media_type in _PRINTED:
        for file in piece.files:
            if file.media_type == media_type:
                return file
    return None


def _open(result: Preview) -> None:
    """Write every piece's files to a fresh temporary folder and open its HTML (or text)."""
    folder = Path(tempfile.mkdtemp(prefix="depesche-preview-"))
    html: list[Path] = []
    text: list[Path] = []
    for index, piece in enumerate(result.pieces):
        target = folder / str(index) if len(result.pieces) > 1 else folder
        target.mkdir(exist_ok=True)
        for file in piece.files:
            (target / file.name).write_bytes(file.content)
            if file.media_type == "text/html":
                html.append(target / file.name)
        printed = _printed(piece)
        if printed is not None:
            text.append(target / printed.name)
    opened = html or text[:1]
    for path in opened:
        console.print(f"opening {path}", highlight=False)
        webbrowser.open(path.as_uri())


def _counts(result: Preview) -> None:
    social = [p for p in result.pieces if p.kind == "social"]
    if not social:
        return
    from content.preview import post_count

    table = Table(
        "platform",
        "length",
        "limit",
        "status",
        "posts",
        "limit from",
        title="Counted as each platform counts",
    )
    for piece in social:
        count = post_count(piece)
        status = (
            "[green]fits[/green]" if count.fits else f"[red]{count.length - count.limit} over[/red]"
        )
        table.add_row(
            count.platform,
            str(count.length),
            str(count.limit),
            status,
            str(count.posts),
            count.limit_source or "default",
        )
    console.print(table)


def preview_command(
    campaign: Annotated[str, typer.Argument(help="Campaign name (file stem in campaigns/)")],
    deliverable: Annotated[str, typer.Argument(help="Deliverable id within the campaign")],
    workspace: Annotated[
        Path, typer.Argument(help="Workspace folder (default: $DEPESCHE_WORKSPACE or .)")
    ] = Path("."),
    initiative: Annotated[str, typer.Option(help="Slug of the initiative")] = "",
    at: Annotated[
        str | None,
        typer.Option(help="Instant to render for (ISO); default: the trigger's next firing"),
    ] = None,
    open_: Annotated[
        bool, typer.Option("--open", help="Write the files to a temporary folder and open them")
    ] = False,
) -> None:
    """Render one piece for one initiative without storing it; print it or open it."""
    # Composing pulls in the renderers (WeasyPrint alone takes most of a second): imported
    # here, so mounting the command costs the other commands nothing.
    from campaigns.workspace import WorkspaceInvalid, load_workspace
    from content.preview import PreviewError, check_request, default_instant, preview
    from content.rendering import RenderError

    if not initiative:
        raise typer.BadParameter("give --initiative SLUG", param_hint="--initiative")
    settings = load_settings(workspace)
    configure(settings)
    upgrade(settings.resolved_database_url)
    try:
        ws = load_workspace(workspace)
    except WorkspaceInvalid as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False, highlight=False)
        raise typer.Exit(1) from None
    try:
        check_request(ws, campaign, deliverable, initiative)
        when = (
            _instant(at)
            if at
            else default_instant(ws.campaigns[campaign], deliverable, datetime.now(UTC))
        )
        result = preview(
            settings.resolved_database_url, ws, campaign, deliverable, initiative, when
        )
    except (PreviewError, RenderError) as exc:
        err.print(f"[red]error[/red]: {exc}", highlight=False)
        raise typer.Exit(1) from None
    zone = ZoneInfo(ws.initiatives[initiative].timezone)
    local = result.spec.due_at.astimezone(zone).isoformat(timespec="minutes")
    console.print(
        f"[bold]Preview[/bold] {campaign}/{result.spec.folder} for {initiative} at {local} "
        "(nothing stored)",
        highlight=False,
    )
    if not result.pieces:
        console.print("No piece: nothing in this slot concerns the initiative.")
        return
    if open_:
        _open(result)
    else:
        for piece in result.pieces:
            console.rule(_label(piece))
            shown = _printed(piece)
            if shown is not None:
                typer.echo(shown.content.decode().rstrip("\n"))
            others = [f.name for f in piece.files if f is not shown]
            if others:
                console.print(
                    f"also rendered: {', '.join(others)} (--open writes them)", highlight=False
                )
    _counts(result)
