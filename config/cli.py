"""The root ``depesche`` command: resolves settings and time at the edge, then calls the packages.

This is the one module in ``config/`` that imports the domain: it mounts every package's work as
a command. Domain code never reads the clock; the commands read it here, or take ``--now``/``--at``.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from config.migrate import upgrade
from config.settings import Settings, configure, load_settings

app = typer.Typer(
    help="Depesche: campaigns as code for networks of regional initiatives.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)

WorkspaceArg = Annotated[
    Path, typer.Argument(help="Workspace folder (default: $DEPESCHE_WORKSPACE or .)")
]
DEMO_WORKSPACE = Path(__file__).resolve().parent.parent / "examples" / "zukunft-der-industrie"


def _instant(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO date-time", param_hint=option) from None
    if parsed.tzinfo is None:
        raise typer.BadParameter(
            f"{value!r} has no UTC offset; write e.g. 2026-11-16T08:00+01:00", param_hint=option
        )
    return parsed.astimezone(UTC)


def _now() -> datetime:
    return datetime.now(UTC)


def _settings(workspace: Path | None) -> Settings:
    settings = load_settings(workspace)
    configure(settings)
    upgrade(settings.resolved_database_url)
    return settings


def _workspace(root: Path):  # type: ignore[no-untyped-def]
    from campaigns.workspace import WorkspaceInvalid, load_workspace

    try:
        return load_workspace(root)
    except WorkspaceInvalid as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False, highlight=False)
        raise typer.Exit(1) from None


@app.command()
def migrate(workspace: WorkspaceArg = Path(".")) -> None:
    """Bring the database to the newest schema (every other command does this too)."""
    settings = _settings(workspace)
    from sqlalchemy.engine import make_url

    shown = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    console.print(f"database at the newest schema: {shown}")


@app.command()
def validate(workspace: WorkspaceArg = Path(".")) -> None:
    """Check every workspace file; print `path:line: field: message` per problem, exit 1 if any."""
    from campaigns.workspace import validate_workspace

    problems = validate_workspace(workspace)
    for problem in problems:
        print(problem)
    if problems:
        raise typer.Exit(1)
    console.print(f"[green]valid[/green]: {workspace}")


@app.command()
def ingest(
    workspace: WorkspaceArg = Path("."),
    now: Annotated[str | None, typer.Option(help="Clock for replays and tests (ISO)")] = None,
) -> None:
    """Fetch every feed of the workspace and store new and changed items."""
    from content.ingest import ingest as ingest_feeds

    settings = _settings(workspace)
    ws = _workspace(workspace)
    clock = _instant(now, "--now") if now else _now()
    with Progress(console=console, transient=True) as progress:
        bar = progress.add_task("Fetching feeds", total=len(ws.feeds))
        outcomes = ingest_feeds(
            settings.resolved_database_url,
            list(ws.feeds.values()),
            base_dir=ws.root,
            now=clock,
            fetch=ws.config.fetch,
            progress=lambda _line: progress.advance(bar),
        )
    table = Table("feed", "status", "new", "updated", "error")
    for o in outcomes:
        table.add_row(o.feed_id, o.status, str(len(o.new)), str(len(o.updated)), o.error or "")
    console.print(table)
    # The items and their events are committed: hand the events to their handlers now.
    from kombu.exceptions import OperationalError as BrokerUnavailable

    from workers.outbox import dispatch_now

    failed: list[int] = []
    try:
        sent = dispatch_now(settings, now=_now())
    except BrokerUnavailable as exc:
        err.print(f"broker unavailable, beat's dispatcher sends the events later: {exc}")
    else:
        where = "sent to the workers" if settings.broker_url else "handled"
        console.print(f"Events: {sent.published} {where}.")
        failed = sent.failed
        for event_id in failed:
            err.print(f"[red]failed[/red] handling event {event_id} (see the log)")
    if any(o.status == "error" for o in outcomes) or failed:
        raise typer.Exit(1)


@app.command()
def items(
    workspace: WorkspaceArg = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines")] = False,
) -> None:
    """List stored items (newest first)."""
    from sqlalchemy import select

    from config.db import session_scope
    from content.models import Item

    settings = _settings(workspace)
    with session_scope(settings.resolved_database_url) as session:
        rows = list(session.scalars(select(Item).order_by(Item.published_at.desc(), Item.id)))
        if as_json:
            for item in rows:
                record = {
                    "id": item.id,
                    "title": item.title,
                    "url": item.canonical_url,
                    "published": item.published_at.isoformat(),
                    "first_seen": item.first_seen_at.isoformat(),
                    "sources": [s.feed_id for s in item.sources],
                    "summary_html": item.summary_html,
                    "summary_text": item.summary_text,
                }
                sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
            return
        table = Table("published", "title", "sources")
        for item in rows:
            table.add_row(
                item.published_at.isoformat(timespec="minutes"),
                item.title,
                ", ".join(s.feed_id for s in item.sources),
            )
        console.print(table)


@app.command()
def plan(
    workspace: WorkspaceArg = Path("."),
    start: Annotated[str, typer.Option("--from", help="ISO date-time")] = "",
    end: Annotated[str, typer.Option("--to", help="ISO date-time")] = "",
    campaign: Annotated[str | None, typer.Option(help="Only this campaign")] = None,
) -> None:
    """Show the schedule and milestone slots between two instants."""
    from campaigns.planner import upcoming

    ws = _workspace(workspace)
    if not start or not end:
        raise typer.BadParameter("give --from and --to")
    slots = upcoming(ws, _instant(start, "--from"), _instant(end, "--to"), campaign)
    table = Table("due (local)", "campaign", "deliverable", "kind", "slot")
    for slot in slots:
        zone = ws.campaigns[slot.campaign].timezone
        from zoneinfo import ZoneInfo

        local = slot.due_at.astimezone(ZoneInfo(zone))
        table.add_row(
            local.isoformat(timespec="minutes"),
            slot.campaign,
            slot.deliverable,
            slot.kind,
            slot.folder,
        )
    console.print(table)


def _summary(reports: list, out_dir: Path) -> None:  # type: ignore[type-arg]
    from collections import Counter

    counts: dict[str, Counter[str]] = {}
    errors: list[str] = []
    # A slot can be reported by several instants (an event within two windows): count it once.
    unique = {report.slot.key: report for report in reports}
    for report in unique.values():
        for initiative, kind, _platform in report.pieces:
            counts.setdefault(initiative, Counter())[kind] += 1
        errors.extend(report.errors)
    table = Table("initiative", "newsletter", "press_release", "social", title="Pieces")
    for initiative in sorted(counts):
        c = counts[initiative]
        table.add_row(initiative, str(c["newsletter"]), str(c["press_release"]), str(c["social"]))
    console.print(table)
    for error in errors:
        err.print(f"[red]failed[/red] {error}", highlight=False)
    console.print(f"Output: [bold]{out_dir.resolve()}[/bold]")


@app.command()
def run(
    workspace: WorkspaceArg = Path("."),
    at: Annotated[str, typer.Option(help="Fire every slot due at this instant (ISO)")] = "",
    campaign: Annotated[str | None, typer.Option(help="Only this campaign")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder")] = None,
) -> None:
    """Fire every slot due at --at and write OUT/<initiative>/<campaign>/<slot>/."""
    from workers.runner import Fanout, run_at

    if not at:
        raise typer.BadParameter("give --at")
    settings = _settings(workspace)
    ws = _workspace(workspace)
    out_dir = out or settings.resolved_out_dir
    reports = run_at(
        settings.resolved_database_url,
        ws,
        _instant(at, "--at"),
        out_dir=out_dir,
        now=_now(),
        campaign=campaign,
        distributed=settings.broker_url is not None,
        timeout=settings.run_timeout,
        fanout=Fanout.from_settings(settings),
    )
    _summary(reports, out_dir)
    if settings.broker_url is None:  # embedded: send what the run made due (beat does it else)
        from workers.delivery_runtime import release_now

        release_now(settings, clock=_now)
    if any(r.errors for r in reports):
        raise typer.Exit(1)


@app.command()
def demo(
    workspace: Annotated[Path, typer.Argument(help="Workspace to replay")] = DEMO_WORKSPACE,
    out: Annotated[Path | None, typer.Option(help="Output folder")] = None,
) -> None:
    """Replay the example's six weeks at fixed instants: ingest, then every slot and event."""
    from workers.demo import replay

    settings = _settings(workspace)
    ws = _workspace(workspace)
    if ws.config.demo is None:
        err.print(f"{workspace / 'depesche.toml'}: no [demo] section to replay")
        raise typer.Exit(1)
    out_dir = out or settings.resolved_out_dir
    with Progress(console=console, transient=True) as progress:
        bar = progress.add_task("Replaying the demo window", total=None)
        result = replay(
            settings.resolved_database_url,
            ws,
            out_dir,
            clock=_now,
            distributed=settings.broker_url is not None,
            timeout=settings.run_timeout,
            on_instant=lambda done, total: progress.update(bar, completed=done, total=total),
        )
    new = sum(len(o.new) for o in result.outcomes)
    console.print(f"Ingested {len(result.outcomes)} feeds ({new} new items).")
    slots = len({report.slot.key for report in result.reports})
    console.print(f"Replayed {len(result.instants)} instants, {slots} slots.")
    _summary(result.reports, out_dir)


@app.command()
def runs(
    workspace: WorkspaceArg = Path("."),
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines")] = False,
    limit: Annotated[int, typer.Option(help="How many, newest first")] = 50,
) -> None:
    """List runs with status and share counts (expected/done/failed; failed = dead letter)."""
    from campaigns.runs import list_runs
    from config.db import session_scope

    settings = _settings(workspace)
    with session_scope(settings.resolved_database_url) as session:
        summaries = list_runs(session, limit)
    if as_json:
        for r in summaries:
            record = {
                "id": r.id,
                "slot": r.slot,
                "status": r.status,
                "pieces": {"expected": r.expected, "done": r.done, "failed": r.failed},
                "started": r.started.isoformat(),
                "finished": r.finished.isoformat() if r.finished else None,
            }
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    table = Table("id", "slot", "status", "expected", "done", "failed", "started", "finished")
    for r in summaries:
        table.add_row(
            str(r.id),
            r.slot,
            r.status,
            str(r.expected),
            str(r.done),
            str(r.failed),
            r.started.isoformat(timespec="seconds"),
            r.finished.isoformat(timespec="seconds") if r.finished else "",
        )
    console.print(table)


@app.command()
def retry(
    run_id: Annotated[int, typer.Argument(help="The run whose failed shares to try again")],
    workspace: WorkspaceArg = Path("."),
) -> None:
    """Send a run's dead-lettered shares again (after fixing what made them fail)."""
    from campaigns.runs import reopen_failed
    from config.db import session_scope
    from workers.runner import Fanout, dispatch

    settings = _settings(workspace)
    url = settings.resolved_database_url
    with session_scope(url) as session:
        try:
            task_ids = reopen_failed(session, run_id)
        except LookupError as exc:
            err.print(str(exc))
            raise typer.Exit(1) from None
    dispatch(
        url,
        task_ids,
        distributed=settings.broker_url is not None,
        fanout=Fanout.from_settings(settings),
    )
    console.print(f"run {run_id}: {len(task_ids)} shares sent again")


@app.command()
def worker(
    workspace: WorkspaceArg = Path("."),
    concurrency: Annotated[int, typer.Option(help="Worker processes")] = 2,
    loglevel: Annotated[str, typer.Option(help="Celery log level")] = "INFO",
) -> None:
    """Start a Celery worker for the workspace (needs DEPESCHE_BROKER_URL)."""
    import os

    settings = _settings(workspace)
    if settings.broker_url is None:
        err.print("DEPESCHE_BROKER_URL is not set: a worker needs a broker (e.g. redis://...)")
        raise typer.Exit(2)
    os.environ["DEPESCHE_WORKSPACE"] = str(workspace.resolve())
    from config.celery_app import app as celery_app

    celery_app.worker_main(
        ["worker", f"--loglevel={loglevel}", f"--concurrency={concurrency}", "-Q", "depesche"]
    )


@app.command()
def beat(
    workspace: WorkspaceArg = Path("."),
    loglevel: Annotated[str, typer.Option(help="Celery log level")] = "INFO",
) -> None:
    """Start Celery beat: fires the campaigns' schedules (state kept in the database)."""
    import os

    settings = _settings(workspace)
    if settings.broker_url is None:
        err.print("DEPESCHE_BROKER_URL is not set: beat needs a broker (e.g. redis://...)")
        raise typer.Exit(2)
    os.environ["DEPESCHE_WORKSPACE"] = str(workspace.resolve())
    from config.celery_app import app as celery_app
    from workers.beat import beat_schedule

    celery_app.conf.beat_schedule = beat_schedule(_workspace(workspace), settings)
    celery_app.Beat(loglevel=loglevel, scheduler="workers.scheduler:DatabaseScheduler").run()


# Commands a package owns in its own module, mounted here.
from workers.commands import events  # noqa: E402

app.command()(events)

from campaigns.commands import app as new_app  # noqa: E402
from content.preview_command import preview_command  # noqa: E402

app.add_typer(new_app, name="new")
app.command("preview")(preview_command)

from content.commands import feeds_app  # noqa: E402

app.add_typer(feeds_app, name="feeds")

from content.review_commands import (  # noqa: E402
    cancel_command,
    pause_command,
    resume_command,
    review_app,
)
from workers.review_mail_commands import notify_command, send_test_command  # noqa: E402

review_app.command("notify")(notify_command)
app.add_typer(review_app, name="review")
app.command("send-test")(send_test_command)
app.command("pause")(pause_command)
app.command("resume")(resume_command)
app.command("cancel")(cancel_command)

from workers.delivery_commands import deliveries_app  # noqa: E402

app.add_typer(deliveries_app, name="deliveries")

from web.commands import web  # noqa: E402
from workers.subscriber_commands import (  # noqa: E402
    bounces,
    press_app,
    subscribers_app,
)
from workers.subscriber_commands import report as report_command  # noqa: E402

app.add_typer(subscribers_app, name="subscribers")
app.add_typer(press_app, name="press")
app.command("bounces")(bounces)
app.command("report")(report_command)
app.command("web")(web)


if __name__ == "__main__":  # pragma: no cover
    app()
