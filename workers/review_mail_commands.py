"""``depesche send-test PIECE --to ADDRESS`` and ``depesche review notify``.

Mounted on the root command by ``config/cli.py`` (here, not in ``content``, because sending is
the workers' part). Both need ``DEPESCHE_SMTP_URL``; errors are one line and exit code 1.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from campaigns.workspace import WorkspaceInvalid, load_workspace
from config.migrate import upgrade
from config.settings import Settings, configure, load_settings
from content.review import ReviewError
from workers.channels.base import PermanentError, TransientError
from workers.review_mail import ReviewMailError, notify_all, send_test, smtp_channel

console = Console()

WorkspaceOption = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help="Workspace folder (default: $DEPESCHE_WORKSPACE or .)"),
]


def _fail(message: str) -> typer.Exit:
    """One line on stderr, never wrapped, and the exit code 1 for the caller to raise."""
    typer.echo(message, err=True)
    return typer.Exit(1)


def _settings(workspace: Path | None) -> Settings:
    settings = load_settings(workspace)
    configure(settings)
    upgrade(settings.resolved_database_url)
    return settings


def send_test_command(
    piece: Annotated[str, typer.Argument(help="Piece id or key")],
    to: Annotated[str, typer.Option("--to", help="Where the test copy goes")],
    workspace: WorkspaceOption = None,
) -> None:
    """Send a copy of a piece marked as a test ([TEST], X-Depesche-Test: yes); not a delivery."""
    settings = _settings(workspace)
    try:
        ws = load_workspace(settings.workspace)
        channel = smtp_channel()
        if channel is None:
            raise _fail("DEPESCHE_SMTP_URL is not set: a test mail needs an SMTP server")
        message_id = send_test(
            settings.resolved_database_url, ws, piece, to, channel, now=datetime.now(UTC)
        )
    except WorkspaceInvalid as exc:
        raise _fail(f"workspace invalid ({exc.problems[0]}); run `depesche validate`") from None
    except (ReviewError, ReviewMailError, TransientError, PermanentError, ValueError) as exc:
        raise _fail(f"send-test {piece}: {exc}") from None
    console.print(f"test copy of {piece} sent to {to} ({message_id})", highlight=False)


def notify_command(workspace: WorkspaceOption = None) -> None:
    """Mail the reviewers of every draft that waits for them and was not asked yet."""
    settings = _settings(workspace)
    try:
        ws = load_workspace(settings.workspace)
        channel = smtp_channel()
        if channel is None:
            raise _fail("DEPESCHE_SMTP_URL is not set: review mails need an SMTP server")
        results = notify_all(settings.resolved_database_url, ws, channel, now=datetime.now(UTC))
    except WorkspaceInvalid as exc:
        raise _fail(f"workspace invalid ({exc.problems[0]}); run `depesche validate`") from None
    except (ReviewMailError, ValueError) as exc:
        raise _fail(f"review notify: {exc}") from None
    sent = sum(1 for r in results if r.status == "sent")
    for result in results:
        if result.status != "sent":
            typer.echo(f"{result.piece} ({result.level}): {result.error}", err=True)
    console.print(f"{sent} review mails sent, {len(results) - sent} failed")
    if sent != len(results):
        raise typer.Exit(1)
