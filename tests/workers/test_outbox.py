"""The outbox dispatcher and the handler registry, on a migrated database, in this process."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from campaigns.models import Run, RunTask, Slot
from campaigns.planner import item_folder
from campaigns.workspace import load_workspace
from config.db import session_scope
from config.models import Event, record_event
from config.settings import Settings, configure, load_settings
from content.ingest import ingest
from content.models import Item, Piece
from tests.event_workspace import (
    CAMPAIGN,
    DELIVERABLE,
    FEED,
    INGEST_AT,
    EventWorkspace,
    build_event_workspace,
)
from workers.handlers import EventContext, EventRecord, Registry, handle, registry
from workers.outbox import InProcess, dispatch_pending

NOW = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)


def _record(database_url: str, *events: tuple[str, str]) -> list[int]:
    """Write events of (type, key) in one transaction, as a state change would."""
    with session_scope(database_url) as session:
        rows = [
            record_event(session, type_, key, {"n": n}, NOW - timedelta(minutes=1))
            for n, (type_, key) in enumerate(events)
        ]
        session.flush()
        return [row.id for row in rows]


def _pending(database_url: str) -> list[int]:
    with session_scope(database_url) as session:
        return list(
            session.scalars(
                select(Event.id).where(Event.dispatched_at.is_(None)).order_by(Event.id)
            )
        )


def _count(database_url: str, model: Any, *where: Any) -> int:
    with session_scope(database_url) as session:
        query = select(func.count()).select_from(model)
        for clause in where:
            query = query.where(clause)
        return int(session.scalar(query) or 0)


def test_dispatcher_publishes_pending_events_in_id_order_then_marks_them(
    database_url: str,
) -> None:
    ids = _record(
        database_url,
        ("item.published", "item.published:a"),
        ("slot.fired", "slot.fired:x"),
        ("item.published", "item.published:b"),
        ("item.published", "item.published:c"),
    )
    published: list[int] = []

    report = dispatch_pending(
        database_url, published.append, subscribed={"item.published"}, now=NOW, batch_size=2
    )

    assert published == [ids[0], ids[2], ids[3]]
    assert (report.published, report.skipped) == (3, 1)
    assert _pending(database_url) == []
    with session_scope(database_url) as session:
        assert {e.dispatched_at for e in session.scalars(select(Event))} == {NOW}
    again: list[int] = []
    dispatch_pending(database_url, again.append, subscribed={"item.published"}, now=NOW)
    assert again == []


def test_events_nobody_subscribes_to_are_marked_without_a_message(database_url: str) -> None:
    _record(database_url, ("piece.drafted", "piece.drafted:1"), ("slot.fired", "slot.fired:1"))
    published: list[int] = []

    report = dispatch_pending(database_url, published.append, subscribed={"x"}, now=NOW)

    assert published == [] and report.skipped == 2
    assert _pending(database_url) == []


def test_a_crash_between_publish_and_mark_leaves_the_batch_to_publish_again(
    database_url: str,
) -> None:
    ids = _record(database_url, *[("item.published", f"item.published:{n}") for n in range(5)])
    published: list[int] = []

    class Crash(Exception):
        pass

    def publish_then_die(event_id: int) -> None:
        published.append(event_id)
        if len(published) == 3:
            raise Crash

    with pytest.raises(Crash):
        dispatch_pending(
            database_url, publish_then_die, subscribed={"item.published"}, now=NOW, batch_size=2
        )

    # The first batch was published and marked; the second was published but never marked.
    assert published == ids[:3]
    assert _pending(database_url) == ids[2:]
    republished: list[int] = []
    dispatch_pending(database_url, republished.append, subscribed={"item.published"}, now=NOW)
    assert republished == ids[2:]


def test_events_written_by_handlers_wait_for_the_next_pass(database_url: str) -> None:
    ids = _record(database_url, ("item.published", "item.published:a"))
    published: list[int] = []

    def publish_and_cause_another(event_id: int) -> None:
        published.append(event_id)
        _record(database_url, ("item.published", f"item.published:after-{event_id}"))

    dispatch_pending(
        database_url, publish_and_cause_another, subscribed={"item.published"}, now=NOW
    )

    assert published == ids
    assert len(_pending(database_url)) == 1


def _context(database_url: str, tmp_path: Path) -> EventContext:
    return EventContext(database_url, tmp_path, tmp_path / "out", distributed=False, now=NOW)


def test_handlers_run_for_their_event_type_and_only_when_their_filter_passes(
    database_url: str, tmp_path: Path
) -> None:
    calls: list[tuple[str, int]] = []
    local = Registry()

    @local.subscribe("item.published", where=lambda payload: payload["n"] == 0)
    def first_only(context: EventContext, event: EventRecord) -> None:
        calls.append(("first_only", event.id))

    @local.subscribe("slot.fired")
    def every_slot(context: EventContext, event: EventRecord) -> None:
        calls.append(("every_slot", event.id))

    a, b, c = _record(
        database_url,
        ("item.published", "item.published:a"),
        ("item.published", "item.published:b"),
        ("slot.fired", "slot.fired:c"),
    )
    context = _context(database_url, tmp_path)

    ran = [handle(context, event_id, using=local) for event_id in (a, b, c)]

    assert calls == [("first_only", a), ("every_slot", c)]
    assert [len(names) for names in ran] == [1, 0, 1]
    assert ran[0][0].endswith("first_only")
    assert local.types() == {"item.published", "slot.fired"}


def test_an_event_id_that_does_not_exist_is_nothing_to_handle(
    database_url: str, tmp_path: Path
) -> None:
    assert handle(_context(database_url, tmp_path), 4711) == []


def test_the_item_handler_is_registered_for_item_published() -> None:
    assert "item.published" in registry.types()


# --- the item.published handler, in-process (the embedded mode) -------------------------------


@pytest.fixture()
def events_workspace(tmp_path: Path) -> EventWorkspace:
    return build_event_workspace(tmp_path / "workspace", matching=3)


@pytest.fixture()
def embedded(
    database_url: str, events_workspace: EventWorkspace, tmp_path: Path
) -> Iterator[Settings]:
    """Settings of the embedded mode (no broker), as ``depesche ingest`` configures them."""
    settings = load_settings(
        events_workspace.root,
        database_url=database_url,
        broker_url=None,
        out_dir=tmp_path / "out",
    )
    configure(settings)
    yield settings
    configure(None)


def _ingest(database_url: str, root: Path) -> None:
    workspace = load_workspace(root)
    outcomes = ingest(
        database_url,
        [workspace.feeds[FEED]],
        base_dir=root,
        now=INGEST_AT,
        fetch=workspace.config.fetch,
    )
    assert [o.status for o in outcomes] == ["ok"], outcomes


# Only the item events: the pieces their handling drafts and approves raise events with handlers
# of their own (review mails, deliveries), which these tests do not count.
ITEM_EVENTS = frozenset({"item.published"})


def test_a_crash_after_handling_before_marking_handles_again_and_opens_each_slot_once(
    database_url: str, events_workspace: EventWorkspace, embedded: Settings
) -> None:
    _ingest(database_url, events_workspace.root)
    item_events = _count(database_url, Event, Event.type == "item.published")
    assert item_events == 5  # three matching, one off-topic, one older than the window

    class Crash(Exception):
        pass

    in_process = InProcess()
    handled: list[int] = []

    def handle_then_die(event_id: int) -> None:
        in_process(event_id)
        handled.append(event_id)
        if len(handled) == 2:
            raise Crash

    with pytest.raises(Crash):
        dispatch_pending(
            database_url, handle_then_die, subscribed=registry.types(), now=NOW, batch_size=10
        )
    assert _count(database_url, Slot) == 2  # the first two events were handled
    assert len(_pending(database_url)) >= item_events  # ... and none of them marked

    again = InProcess()
    report = dispatch_pending(database_url, again, subscribed=ITEM_EVENTS, now=NOW)

    assert report.published == item_events and again.failed == []
    with session_scope(database_url) as session:
        urls = {
            item.id: item.canonical_url
            for item in session.scalars(select(Item).where(Item.id.in_(select(Slot.item_id))))
        }
        slots = list(session.scalars(select(Slot)))
    assert sorted(urls.values()) == sorted(events_workspace.matching)
    assert sorted(s.key for s in slots) == sorted(
        f"{CAMPAIGN}/{item_folder(DELIVERABLE, item_id)}" for item_id in urls
    )
    assert _count(database_url, Run) == 3
    assert _count(database_url, RunTask, RunTask.status == "done") == 3
    assert _count(database_url, Piece) == 3  # Krefeld, Mastodon, once per item
    assert _count(database_url, Event, Event.type == "slot.fired") == 3
    manifests = sorted((embedded.resolved_out_dir / "krefeld" / CAMPAIGN).glob("*/manifest.json"))
    assert len(manifests) == 3


def test_a_republished_event_after_the_run_finished_changes_nothing(
    database_url: str, events_workspace: EventWorkspace, embedded: Settings
) -> None:
    _ingest(database_url, events_workspace.root)
    dispatch_pending(database_url, InProcess(), subscribed=ITEM_EVENTS, now=NOW)
    out = embedded.resolved_out_dir
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    pieces = _count(database_url, Piece)
    with session_scope(database_url) as session:
        session.execute(
            update(Event).where(Event.type == "item.published").values(dispatched_at=None)
        )

    report = dispatch_pending(database_url, InProcess(), subscribed=ITEM_EVENTS, now=NOW)

    assert report.published == 5
    assert _count(database_url, Piece) == pieces == 3
    assert _count(database_url, Run) == 3
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == mtimes


def test_beat_runs_the_outbox_dispatcher_every_few_seconds(example_workspace: Path) -> None:
    from workers.beat import beat_schedule

    settings = load_settings(example_workspace)
    entry = beat_schedule(load_workspace(example_workspace), settings)["dispatch-events"]
    assert entry["task"] == "depesche.dispatch_events"
    assert entry["schedule"].total_seconds() <= 5
