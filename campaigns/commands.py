"""``depesche new …``: scaffolding commands, mounted on the root command by ``config/cli.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Scaffold new parts of a workspace.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


@app.command("initiative")
def new_initiative(
    slug: Annotated[str, typer.Argument(help="Slug of the new initiative, e.g. saarland")],
    workspace: Annotated[
        Path, typer.Argument(help="Workspace folder (default: $DEPESCHE_WORKSPACE or .)")
    ] = Path("."),
    name: Annotated[
        str | None, typer.Option(help="Name (default: Industrieinitiative <Region>)")
    ] = None,
    level: Annotated[str, typer.Option(help="Land, Region or Kommune")] = "Region",
    region: Annotated[str | None, typer.Option(help="Region (default: from the slug)")] = None,
    place: Annotated[
        str | None, typer.Option(help="Place of the dateline (default: the region)")
    ] = None,
) -> None:
    """Append a valid initiative to initiatives.yaml, create its override folder, print a
    checklist of what to fill in."""
    from campaigns.scaffold import ScaffoldError, scaffold_initiative

    try:
        done = scaffold_initiative(
            workspace, slug, name=name, level=level, region=region, place=place
        )
    except ScaffoldError as exc:
        err.print(f"[red]error[/red]: {exc}", highlight=False)
        for problem in exc.problems:
            err.print(str(problem), markup=False, highlight=False)
        raise typer.Exit(1) from None
    console.print(
        f"[green]angelegt / created[/green]: {done.initiatives_file}:{done.first_line}",
        highlight=False,
    )
    for path in done.created:
        console.print(f"[green]angelegt / created[/green]: {path}", highlight=False)
    table = Table(
        "",
        "Feld / field",
        "Zu tun",
        "To do",
        title=f"Checkliste / checklist: {slug}",
        title_justify="left",
    )
    for number, entry in enumerate(done.checklist, start=1):
        table.add_row(str(number), entry.field, entry.german, entry.english)
    console.print(table)
    console.print(
        "Alle Werte mit „BITTE AUSFÜLLEN“ ersetzen, dann / replace every „BITTE AUSFÜLLEN“, "
        f"then: depesche validate {workspace}",
        highlight=False,
    )
