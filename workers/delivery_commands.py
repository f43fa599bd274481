"""``depesche deliveries``: what was sent, what waits, and the operator's resend.

``depesche deliveries [--state S] [--json]`` lists deliveries newest first (``--state unknown``
shows the ones a crashed worker left, which are never resent on their own);
``depesche deliveries resend ID`` puts one back to pending after the operator checked it did not
arrive; ``depesche deliveries release`` sends what is due now (what beat does every few seconds).
Targets are shown by their reference (``subscriber:17``), never by address.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from config.db import session_scope
from config.migrate import upgrade
from config.settings import Settings, configure, load_settings
from workers.delivery import ResendRefused, list_deliveries, resend
from workers.models import STATES

console = Console()
err = Console(stderr=True)
deliveries_app = typer.Typer(
    help="Deliveries: list them, resend an unknown one, send what is due.",
    invoke_without_command=True,
    no_args_is_help=False,
)

WorkspaceOption = Annotated[
    Path,
    typer.Option(
        "--workspace", "-w", envvar="DEPESCHE_WORKSPACE", help="Workspace folder (default: .)"
    ),
]
SubWorkspaceOption = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help="Workspace folder (default: the group's, or .)"),
]


def _workspace(ctx: typer.Context, workspace: Path | None) -> Path:
    """``deliveries -w W resend 5`` and ``deliveries resend 5 -w W`` both work."""
    if workspace is not None:
        return workspace
    return ctx.obj if isinstance(ctx.obj, Path) else Path(".")


def _settings(workspace: Path) -> Settings:
    settings = load_settings(workspace)
    configure(settings)
    upgrade(settings.resolved_database_url)
    return settings


def _now() -> datetime:
    return datetime.now(UTC)


@deliveries_app.callback()
def deliveries(
    ctx: typer.Context,
    workspace: WorkspaceOption = Path("."),
    state: Annotated[
        str | None, typer.Option("--state", help=f"Only this state: {', '.join(STATES)}")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines")] = False,
) -> None:
    """List deliveries, newest first."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = workspace
        return
    if state is not None and state not in STATES:
        raise typer.BadParameter(f"{state!r}: use one of {', '.join(STATES)}", param_hint="--state")
    settings = _settings(workspace)
    with session_scope(settings.resolved_database_url) as session:
        views = list_deliveries(session, state=state, limit=limit)
    if as_json:
        for view in views:
            sys.stdout.write(json.dumps(view.as_json(), ensure_ascii=False) + "\n")
        return
    table = Table("id", "status", "channel", "target", "attempts", "piece", "external id / error")
    for view in views:
        table.add_row(
            str(view.id),
            view.status,
            view.channel,
            view.target_ref,
            str(view.attempts),
            view.piece,
            view.external_id or view.last_error or "",
        )
    console.print(table)


@deliveries_app.command("resend")
def resend_command(
    ctx: typer.Context,
    delivery_id: Annotated[int, typer.Argument(help="The delivery to send again")],
    workspace: SubWorkspaceOption = None,
) -> None:
    """Send an unknown (or failed) delivery again: the operator checked it did not arrive."""
    settings = _settings(_workspace(ctx, workspace))
    with session_scope(settings.resolved_database_url) as session:
        try:
            delivery = resend(session, delivery_id, now=_now())
        except ResendRefused as exc:
            err.print(str(exc), markup=False)
            raise typer.Exit(1) from None
        key = delivery.key
    console.print(f"delivery {delivery_id} ({key}) is pending again", markup=False)


@deliveries_app.command("release")
def release_command(ctx: typer.Context, workspace: SubWorkspaceOption = None) -> None:
    """Route approved pieces and send every delivery due now."""
    from workers.delivery_runtime import release_now

    settings = _settings(_workspace(ctx, workspace))
    report = release_now(settings, clock=_now)
    console.print(
        f"sent {report.sent}, failed {report.failed}, retrying {report.retrying}, "
        f"suppressed {report.suppressed}, unknown {report.unknown}"
    )
