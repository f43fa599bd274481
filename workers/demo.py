"""The demo replay: ingest the example at a fixed clock, then fire every slot of its window.

The instants are fixed by the workspace's ``[demo]`` window (each schedule and milestone slot, and
the minute each matching item appeared), so the output does not change as time passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from campaigns.planner import event_instants, upcoming
from campaigns.workspace import Workspace
from content.ingest import FeedOutcome, ingest
from workers.runner import DEFAULT_FANOUT, Fanout, SlotReport, published_payloads, run_at


@dataclass(frozen=True)
class Replay:
    outcomes: list[FeedOutcome]
    instants: list[datetime]
    reports: list[SlotReport]


def demo_instants(database_url: str, workspace: Workspace) -> list[datetime]:
    window = workspace.config.demo
    if window is None:
        raise ValueError(f"{workspace.root / 'depesche.toml'}: no [demo] section to replay")
    start, end = window.start.astimezone(UTC), window.end.astimezone(UTC)
    scheduled = {slot.due_at for slot in upcoming(workspace, start, end)}
    appeared = event_instants(workspace, published_payloads(database_url), start, end)
    return sorted(scheduled | set(appeared))


def replay(
    database_url: str,
    workspace: Workspace,
    out_dir: Path,
    *,
    clock: Callable[[], datetime],
    distributed: bool = False,
    timeout: float = 600.0,
    on_instant: Callable[[int, int], None] | None = None,
    fanout: Fanout = DEFAULT_FANOUT,
) -> Replay:
    window = workspace.config.demo
    if window is None:
        raise ValueError(f"{workspace.root / 'depesche.toml'}: no [demo] section to replay")
    outcomes = ingest(
        database_url,
        list(workspace.feeds.values()),
        base_dir=workspace.root,
        now=window.ingest_at.astimezone(UTC),
        fetch=workspace.config.fetch,
    )
    instants = demo_instants(database_url, workspace)
    payloads = published_payloads(database_url)
    reports: list[SlotReport] = []
    for done, instant in enumerate(instants, start=1):
        reports.extend(
            run_at(
                database_url,
                workspace,
                instant,
                out_dir=out_dir,
                now=clock(),
                distributed=distributed,
                timeout=timeout,
                payloads=payloads,
                fanout=fanout,
            )
        )
        if on_instant:
            on_instant(done, len(instants))
    return Replay(outcomes, instants, reports)
