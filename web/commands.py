"""``depesche web``: serve the app with uvicorn (mounted by ``config/cli.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from campaigns.workspace import WorkspaceInvalid, load_workspace
from config.migrate import upgrade
from config.settings import configure, load_settings
from workers.tokens import MissingSecretKey

err = Console(stderr=True)


def web(
    workspace: Annotated[
        Path | None, typer.Argument(help="Workspace folder (default: $DEPESCHE_WORKSPACE or .)")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
) -> None:
    """Serve sign-up, confirmation, unsubscribe and consent pages (DEPESCHE_PUBLIC_URL)."""
    import uvicorn

    from web.app import create_app

    settings = load_settings(workspace)
    configure(settings)
    upgrade(settings.resolved_database_url)
    try:
        ws = load_workspace(settings.workspace)
    except WorkspaceInvalid as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False, highlight=False)
        raise typer.Exit(1) from None
    try:
        app = create_app(settings, ws)
    except MissingSecretKey as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(2) from None
    # Behind a reverse proxy on the same host, X-Forwarded-For gives the client's address
    # (the proof of consent records it); uvicorn trusts it from 127.0.0.1 only.
    uvicorn.run(app, host=host, port=port, proxy_headers=True, log_level="warning")
