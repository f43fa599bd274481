"""``depesche subscribers``, ``depesche press``, ``depesche bounces`` and ``depesche report``.

Mounted by the root command (``config/cli.py``). The clock is read here, at the edge, or taken
from ``--now``; everything below takes it as an argument. Errors name the file and line (CSV),
the address or the initiative, and exit with 1.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from campaigns.schema import Initiative
from campaigns.workspace import Workspace, WorkspaceInvalid, load_workspace
from config.db import session_scope
from config.migrate import upgrade
from config.settings import Settings, configure, load_settings
from workers.addresses import InvalidAddress
from workers.bounces import HARD, SOFT, NotAReport, parse_report, read_messages, record_report
from workers.campaign_report import campaign_report
from workers.confirmation_mail import MailNotConfigured, send_confirmation
from workers.consent import consent_text, record_consent_text
from workers.gdpr import erase_person, export_person, purge
from workers.list_import import ImportFileInvalid, ImportResult, import_press, import_subscribers
from workers.subscriber_models import PressContact, Subscriber
from workers.subscribers import (
    audience_choices,
    confirmation_due,
    refuses_confirmation_mail,
    sign_up,
)
from workers.tokens import MissingSecretKey

console = Console()
err = Console(stderr=True)

subscribers_app = typer.Typer(
    help="Subscriber lists: double opt-in, CSV import, GDPR export and erasure, retention.",
    no_args_is_help=True,
)
press_app = typer.Typer(help="Press lists (Presseverteiler) per initiative.", no_args_is_help=True)

WorkspaceOption = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help="Workspace folder (default: $DEPESCHE_WORKSPACE or .)"),
]
SlugArg = Annotated[str, typer.Argument(help="The initiative's slug, e.g. krefeld")]


def _settings(workspace: Path | None) -> Settings:
    root = workspace or Path(os.environ.get("DEPESCHE_WORKSPACE", "."))
    settings = load_settings(root)
    configure(settings)
    upgrade(settings.resolved_database_url)
    return settings


def _workspace(settings: Settings) -> Workspace:
    try:
        return load_workspace(settings.workspace)
    except WorkspaceInvalid as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False, highlight=False)
        raise typer.Exit(1) from None


def _initiative(ws: Workspace, slug: str) -> Initiative:
    initiative = ws.initiatives.get(slug)
    if initiative is None:
        err.print(
            f"unknown initiative {slug!r} (known: {', '.join(sorted(ws.initiatives))})",
            markup=False,
        )
        raise typer.Exit(1)
    return initiative


def _now(value: str | None = None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO date-time", param_hint="--now") from None
    if parsed.tzinfo is None:
        raise typer.BadParameter(f"{value!r} has no UTC offset", param_hint="--now")
    return parsed.astimezone(UTC)


def _send_confirmations(
    settings: Settings, initiative: Initiative, ids: list[int], now: datetime
) -> int:
    sent = 0
    for subscriber_id in ids:
        try:
            if send_confirmation(
                settings.resolved_database_url,
                subscriber_id,
                initiative=initiative,
                settings=settings,
                now=now,
            ):
                sent += 1
        except (MissingSecretKey, MailNotConfigured) as exc:
            err.print(str(exc), markup=False)
            raise typer.Exit(1) from None
        except Exception as exc:  # the channel's errors carry no secret
            err.print(f"subscriber:{subscriber_id}: confirmation mail not sent: {exc}")
    return sent


@subscribers_app.command("add")
def add(
    slug: SlugArg,
    address: Annotated[str, typer.Argument(help="The e-mail address")],
    name: Annotated[str | None, typer.Option(help="The person's name")] = None,
    audience: Annotated[str | None, typer.Option(help="Audience id, e.g. betriebsraete")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Sign an address up (unconfirmed) and send it the confirmation mail."""
    settings = _settings(workspace)
    ws = _workspace(settings)
    initiative = _initiative(ws, slug)
    choices = audience_choices(ws.campaigns.values())
    if audience is not None and choices and audience not in choices:
        err.print(f"unknown audience {audience!r} (known: {', '.join(sorted(choices))})")
        raise typer.Exit(1)
    now = _now()
    with session_scope(settings.resolved_database_url) as session:
        version = record_consent_text(session, slug, consent_text(initiative), now)
        try:
            subscriber = sign_up(
                session,
                initiative=slug,
                address=address,
                name=name,
                audience=audience,
                source="cli",
                ip=None,
                consent_version=version,
                now=now,
            )
        except InvalidAddress as exc:
            err.print(str(exc), markup=False)
            raise typer.Exit(1) from None
        subscriber_id, status = subscriber.id, subscriber.status
        due = confirmation_due(subscriber, now) and not refuses_confirmation_mail(
            session, subscriber.address
        )
    sent = _send_confirmations(settings, initiative, [subscriber_id] if due else [], now)
    console.print(
        f"subscriber:{subscriber_id} {status}"
        + ("; confirmation mail sent" if sent else "; no confirmation mail due")
    )


def _print_import(result: ImportResult) -> None:
    """One unwrapped ``file:line: field: message`` line per problem, for people and tools."""
    for line in result.skipped:
        print(f"skipped {line}", file=sys.stderr)
    for line in result.problems:
        print(line, file=sys.stderr)


@subscribers_app.command("import")
def import_command(
    slug: SlugArg,
    file: Annotated[Path, typer.Argument(help="CSV with a header: email, name, audience")],
    audience: Annotated[
        str | None, typer.Option(help="Audience for rows without an audience column value")
    ] = None,
    confirmed_consent_note: Annotated[
        str | None,
        typer.Option(
            help="States documented prior consent (where and when it was given); the rows are "
            "then confirmed without a confirmation mail, and the note is kept as proof"
        ),
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Import subscribers; valid rows are kept even when others are bad (listed with lines)."""
    settings = _settings(workspace)
    ws = _workspace(settings)
    initiative = _initiative(ws, slug)
    now = _now()
    choices = audience_choices(ws.campaigns.values())
    try:
        with session_scope(settings.resolved_database_url) as session:
            result = import_subscribers(
                session,
                file,
                initiative=slug,
                audiences=choices,
                default_audience=audience,
                consent_note=confirmed_consent_note,
                now=now,
            )
    except ImportFileInvalid as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    sent = _send_confirmations(settings, initiative, result.to_confirm, now)
    _print_import(result)
    console.print(
        f"{slug}: {result.added} added, {result.updated} already listed, "
        f"{result.confirmed} confirmed by documented consent, {sent} confirmation mails sent, "
        f"{len(result.skipped)} suppressed, {len(result.problems)} bad rows"
    )
    if result.problems:
        raise typer.Exit(1)


@subscribers_app.command("list")
def list_command(
    slug: SlugArg,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """List an initiative's subscribers with status and audience."""
    settings = _settings(workspace)
    with session_scope(settings.resolved_database_url) as session:
        rows = list(
            session.scalars(
                select(Subscriber).where(Subscriber.initiative == slug).order_by(Subscriber.id)
            )
        )
        records = [
            {
                "ref": f"subscriber:{s.id}",
                "address": s.address,
                "name": s.name,
                "audience": s.audience,
                "status": s.status,
                "source": s.source,
                "created_at": s.created_at.isoformat(),
                "confirmed_at": s.confirmed_at.isoformat() if s.confirmed_at else None,
            }
            for s in rows
        ]
    if as_json:
        for record in records:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    table = Table("ref", "address", "name", "audience", "status", "since")
    for r in records:
        table.add_row(
            str(r["ref"]),
            str(r["address"]),
            str(r["name"] or ""),
            str(r["audience"] or ""),
            str(r["status"]),
            str(r["created_at"])[:16],
        )
    console.print(table)


@subscribers_app.command("export")
def export_command(
    address: Annotated[str, typer.Argument(help="The person's e-mail address")],
    workspace: WorkspaceOption = None,
) -> None:
    """Print everything stored about one person as JSON (Art. 15 DSGVO)."""
    settings = _settings(workspace)
    try:
        with session_scope(settings.resolved_database_url) as session:
            data = export_person(session, address, now=_now())
    except InvalidAddress as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@subscribers_app.command("erase")
def erase_command(
    address: Annotated[str, typer.Argument(help="The person's e-mail address")],
    workspace: WorkspaceOption = None,
) -> None:
    """Erase one person's data (Art. 17 DSGVO); a hash stays on the suppression list."""
    settings = _settings(workspace)
    try:
        with session_scope(settings.resolved_database_url) as session:
            done = erase_person(session, address, now=_now())
    except InvalidAddress as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    console.print(
        f"erased: {done.subscriptions} subscriptions, {done.press_entries} press entries, "
        f"address removed from {done.deliveries} delivery records; suppressed by hash"
    )


@subscribers_app.command("purge")
def purge_command(
    now: Annotated[str | None, typer.Option(help="Clock for replays and tests (ISO)")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Delete unconfirmed sign-ups and old delivery records past their retention period."""
    settings = _settings(workspace)
    with session_scope(settings.resolved_database_url) as session:
        done = purge(
            session,
            now=_now(now),
            unconfirmed_days=settings.unconfirmed_retention_days,
            delivery_days=settings.delivery_retention_days,
        )
    console.print(
        f"purged: {done.unconfirmed} unconfirmed sign-ups (older than "
        f"{settings.unconfirmed_retention_days} days), {done.deliveries} delivery records "
        f"(older than {settings.delivery_retention_days} days)"
    )


@press_app.command("import")
def press_import(
    slug: SlugArg,
    file: Annotated[Path, typer.Argument(help="CSV with a header: name, outlet, beat, email")],
    workspace: WorkspaceOption = None,
) -> None:
    """Import journalists into an initiative's press list."""
    settings = _settings(workspace)
    _initiative(_workspace(settings), slug)
    try:
        with session_scope(settings.resolved_database_url) as session:
            result = import_press(session, file, initiative=slug, now=_now())
    except ImportFileInvalid as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    _print_import(result)
    console.print(
        f"{slug}: {result.added} added, {result.updated} updated, {len(result.problems)} bad rows"
    )
    if result.problems:
        raise typer.Exit(1)


@press_app.command("list")
def press_list(
    slug: SlugArg,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """List an initiative's press contacts."""
    settings = _settings(workspace)
    with session_scope(settings.resolved_database_url) as session:
        records = [
            {"ref": f"journalist:{c.id}", "name": c.name, "outlet": c.outlet,
             "beat": c.beat, "address": c.address}
            for c in session.scalars(
                select(PressContact)
                .where(PressContact.initiative == slug)
                .order_by(PressContact.outlet, PressContact.name)
            )
        ]  # fmt: skip
    if as_json:
        for record in records:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    table = Table("ref", "name", "outlet", "beat", "address")
    for r in records:
        table.add_row(*(str(r[k] or "") for k in ("ref", "name", "outlet", "beat", "address")))
    console.print(table)


def bounces(
    path: Annotated[Path, typer.Argument(help="An .eml report, a folder of them, mbox or Maildir")],
    workspace: WorkspaceOption = None,
) -> None:
    """Read bounce (RFC 3464) and complaint (RFC 5965) reports into the suppression list."""
    if not path.exists():
        err.print(f"{path}: no such file or folder", markup=False)
        raise typer.Exit(1)
    settings = _settings(workspace)
    now = _now()
    counts = {"hard": 0, "complaint": 0, "soft": 0, "suppressed": 0, "not_reports": 0}
    for where, data in read_messages(path):
        try:
            entries = parse_report(data)
        except NotAReport as exc:
            counts["not_reports"] += 1
            err.print(f"{where}: skipped, {exc}", markup=False, highlight=False)
            continue
        with session_scope(settings.resolved_database_url) as session:
            outcomes = record_report(session, entries, now=now)
        for outcome in outcomes:
            entry = outcome.entry
            counts[entry.kind] += 1
            counts["suppressed"] += outcome.suppressed
            what = {HARD: "hard bounce", SOFT: "temporary, ignored"}.get(entry.kind, "complaint")
            console.print(
                f"{where}: {entry.address}: {what}"
                + (f" ({entry.status})" if entry.status else ""),
                markup=False,
                highlight=False,
            )
    console.print(
        f"{counts['hard']} hard bounces, {counts['complaint']} complaints, "
        f"{counts['soft']} temporary (ignored); {counts['suppressed']} addresses newly suppressed; "
        f"{counts['not_reports']} messages were no reports"
    )


def report(
    campaign: Annotated[str, typer.Argument(help="The campaign's name (its file name)")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Sent, bounced, unsubscribed and failed mails of one campaign, per initiative."""
    settings = _settings(workspace)
    with session_scope(settings.resolved_database_url) as session:
        rows = campaign_report(session, campaign)
    if as_json:
        for row in rows:
            sys.stdout.write(json.dumps(row.as_dict(), ensure_ascii=False) + "\n")
        return
    if not rows:
        console.print(f"no deliveries recorded for campaign {campaign!r}")
        return
    others = sorted({s for row in rows for s in row.states} - {"sent", "failed"})
    table = Table(
        "initiative", "sent", "bounced", "complaints", "unsubscribed", "failed", *others,
        title=f"Campaign {campaign}",
    )  # fmt: skip
    for row in rows:
        table.add_row(
            row.initiative,
            str(row.sent),
            str(row.bounced),
            str(row.complained),
            str(row.unsubscribed),
            str(row.failed),
            *(str(row.states[s]) for s in others),
        )
    console.print(table)
