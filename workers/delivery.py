"""Sending deliveries exactly once: claim, send over one connection per group, record.

The release step (beat every few seconds, and ``depesche run`` in embedded mode) does this:

1. Rows left in ``sending`` whose lease ran out belong to a worker that died mid-send: they
   become ``unknown`` (``delivery.unknown``). Their message may have left, so they are never
   sent again on their own; ``depesche deliveries resend ID`` is the operator's decision.
2. Due ``pending`` rows of pieces that may leave now (the review work's ``hold_reason``) are
   claimed in chunks: ``sending``, ``attempts + 1``, a lease, committed before anything leaves.
   E-mail addresses on the suppression list are marked ``suppressed`` in the same transaction.
3. Each chunk is grouped by connection (all mail through the one SMTP server; the Mastodon,
   Bluesky or webhook channel of one initiative) and sent over connections kept open for the
   whole release. What is not sent within half the lease (a slow or rate-limited server) is
   given back untried, so a lease never runs out on a row that is still being sent.
4. Outcomes are written together with the next chunk's claim (one commit per chunk, which is what
   makes 10,000 mails fast). A crash can therefore leave rows in ``sending`` only, never a sent
   message recorded as pending: at worst the chunk in flight (``DEPESCHE_DELIVERY_CHUNK`` rows,
   sent or not) becomes ``unknown``; the chunk size trades commits against that blast radius.

An error the channel interface does not name (neither transient nor permanent) may have come
after the message left: that row becomes ``unknown`` at once, like a crash.
Transient errors (SMTP 4xx, connection refused, HTTP 429) put the row back to ``pending`` with
``next_attempt_at`` from exponential backoff with jitter, or the server's ``Retry-After``: the
database holds the wait, never a broker ETA. After ``max_attempts`` claims it fails. Permanent
errors (SMTP 5xx, an invalid address) fail the row at once with the reason. Error texts are
scrubbed of URL credentials before they are stored or put in an event.
"""

from __future__ import annotations

import logging
import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from campaigns.models import Slot
from campaigns.workspace import Workspace
from config.db import session_scope
from config.models import Event
from content.models import Piece
from content.review import hold_reason
from workers.channels.base import (
    Attachment,
    Channel,
    Connection,
    OutcomeUnknown,
    Outgoing,
    PermanentError,
    TransientError,
)
from workers.delivery_hooks import (
    RecipientSource,
    SubscriberLists,
    suppressed_among,
    transition,
)
from workers.delivery_mail import pack_files, pack_mail, press_mail
from workers.models import FAILED, PENDING, SENDING, SENT, SUPPRESSED, UNKNOWN, Delivery

log = logging.getLogger(__name__)

MAIL_CHANNELS = frozenset({"email", "press"})
# Piece states whose deliveries decide where the piece goes next (delivered or failed).
SETTLING = frozenset({"approved", "scheduled"})
DEFAULT_LEASE = timedelta(minutes=5)
DEFAULT_CHUNK = 200
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: the n-th retry waits 50–100 % of ``base * 2**(n-1)``."""

    base: float = 30.0
    cap: float = 6 * 3600.0
    max_attempts: int = 8

    def delay(self, attempts: int, retry_after: float | None, rng: random.Random) -> timedelta:
        ceiling = min(self.cap, self.base * 2 ** max(0, attempts - 1))
        wait = rng.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            wait = max(wait if attempts > 1 else 0.0, retry_after)  # the server's wish first
        return timedelta(seconds=wait)


_CREDENTIALS = re.compile(r"(?i)([a-z][a-z0-9+.-]*://)[^/@\s]*@")


def scrub(text: str) -> str:
    """Remove ``user:password@`` from any URL in an error text before it is stored or logged."""
    return _CREDENTIALS.sub(r"\1***@", text)[:2000]


# --- channels -----------------------------------------------------------------------------------

ChannelFactory = Callable[[str], Channel]


@dataclass
class Channels:
    """Which channel sends a delivery, and which deliveries share one connection.

    ``mail`` sends every e-mail (subscribers, press, packs by mail): one SMTP server, so one
    group. ``factories`` build the channel of one initiative for the others (``mastodon``,
    ``bluesky``, ``webhook``; ``pack`` by webhook uses ``webhook``'s), by initiative slug.
    """

    mail: Channel | None = None
    factories: Mapping[str, ChannelFactory] = field(default_factory=dict)

    def group(self, row: Claimed) -> str:
        """Mail shares the one SMTP server; every other channel has a connection per initiative
        (its own account, token or webhook secret)."""
        if row.channel in MAIL_CHANNELS or (
            row.channel == "pack" and row.options.get("via") != "webhook"
        ):
            return "mail"
        kind = "webhook" if row.channel == "pack" else row.channel
        return f"{kind} {row.initiative}"

    def channel_for(self, group: str) -> Channel:
        """The channel of a group; a transient error when this deployment cannot send it yet."""
        if group == "mail":
            if self.mail is None:
                raise TransientError("no SMTP server configured (set DEPESCHE_SMTP_URL)")
            return self.mail
        kind, _, initiative = group.partition(" ")
        factory = self.factories.get(kind)
        if factory is None:
            raise TransientError(f"channel {kind} is not available in this deployment")
        return factory(initiative)


# --- claiming -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A claimed row as plain data: what a send needs, detached from any session."""

    id: int
    key: str
    attempt: int
    piece_id: int
    initiative: str
    channel: str
    target: str
    target_ref: str
    options: dict[str, str]


def _due(now: datetime) -> Any:
    return and_(
        Delivery.status == PENDING,
        Delivery.due_at <= now,
        or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
    )


def _held_pieces(session: Session, workspace: Workspace, now: datetime) -> set[int]:
    """Pieces with due rows that may not leave now (embargo, paused campaign, stale, ...)."""
    piece_ids = session.scalars(select(Delivery.piece_id).where(_due(now)).distinct()).all()
    held = set()
    for piece in session.scalars(select(Piece).where(Piece.id.in_(piece_ids))):
        reason = hold_reason(session, piece, workspace, now)
        if reason is not None:
            log.info("piece %s held: %s", piece.key, reason)
            held.add(piece.id)
    return held


@dataclass(frozen=True)
class Claim:
    rows: list[Claimed]
    suppressed: list[Claimed]


def claim(
    session: Session,
    *,
    due: datetime,
    lease_until: datetime,
    limit: int,
    recipients: RecipientSource,
    held: set[int],
    exclude: set[int] | None = None,
) -> Claim:
    """Mark up to ``limit`` rows due at ``due`` as ``sending``; the caller commits before sending.

    Mail to an address on the suppression list is settled here instead: ``suppressed``.
    """
    query = select(Delivery.id).where(_due(due)).order_by(Delivery.id).limit(limit)
    if held:
        query = query.where(Delivery.piece_id.not_in(held))
    if exclude:
        query = query.where(Delivery.id.not_in(exclude))
    ids = list(session.scalars(query.with_for_update(skip_locked=True)))
    if not ids:
        return Claim([], [])
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.status == PENDING)
        .values(status=SENDING, attempts=Delivery.attempts + 1, lease_until=lease_until)
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(
        select(
            Delivery.id,
            Delivery.key,
            Delivery.attempts,
            Delivery.piece_id,
            Piece.initiative,
            Delivery.channel,
            Delivery.target,
            Delivery.target_ref,
            Delivery.options,
        )
        .join(Piece, Piece.id == Delivery.piece_id)
        .where(Delivery.id.in_(ids), Delivery.status == SENDING)
        .order_by(Delivery.id)
    )
    claimed = [Claimed(*row) for row in rows]
    blocked = suppressed_among(
        recipients, session, (c.target for c in claimed if c.channel in MAIL_CHANNELS)
    )
    suppressed = [c for c in claimed if c.channel in MAIL_CHANNELS and c.target in blocked]
    if suppressed:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_([c.id for c in suppressed]))
            .values(status=SUPPRESSED, lease_until=None, last_error="address is suppressed")
            .execution_options(synchronize_session=False)
        )
        gone = {c.id for c in suppressed}
        claimed = [c for c in claimed if c.id not in gone]
    return Claim(claimed, suppressed)


def expire_leases(session: Session, *, now: datetime) -> list[int]:
    """Rows still ``sending`` after their lease: their worker died; they become ``unknown``."""
    rows = session.execute(
        select(Delivery.id, Delivery.key, Delivery.attempts, Delivery.channel, Delivery.target_ref)
        .where(Delivery.status == SENDING, Delivery.lease_until < now)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return []
    ids = [row.id for row in rows]
    session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.status == SENDING)
        .values(
            status=UNKNOWN,
            lease_until=None,
            last_error="the sending worker stopped before recording the outcome; the message "
            "may have left: resend only after checking (depesche deliveries resend ID)",
        )
        .execution_options(synchronize_session=False)
    )
    _events(
        session,
        "delivery.unknown",
        [
            {"delivery": r.id, "key": r.key, "attempt": r.attempts, "channel": r.channel,
             "target": r.target_ref}
            for r in rows
        ],
        now,
    )  # fmt: skip
    log.warning("%d deliveries in unknown state after a lease expired", len(rows))
    return ids


# --- sending ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    delivery: Claimed
    status: str  # sent | retry | failed | unknown | released (claimed, never tried)
    external_id: str | None = None
    error: str | None = None
    retry_after: float | None = None


@dataclass
class PieceFiles:
    """Each piece's files loaded once per release, however many recipients share them."""

    clock: Clock
    cache: dict[int, tuple[Piece, tuple[Attachment, ...]]] = field(default_factory=dict)
    packs: dict[int, tuple[Attachment, ...]] = field(default_factory=dict)
    broken_packs: dict[int, str] = field(default_factory=dict)

    def load(self, session: Session, piece_ids: set[int]) -> None:
        missing = piece_ids - self.cache.keys()
        if not missing:
            return
        for piece in session.scalars(select(Piece).where(Piece.id.in_(missing))):
            files = tuple(Attachment(f.name, f.media_type, f.content) for f in piece.files)
            session.expunge(piece)
            self.cache[piece.id] = (piece, files)

    def load_packs(self, session: Session, piece_ids: set[int]) -> None:
        for piece_id in piece_ids - self.packs.keys():
            piece = self.cache[piece_id][0]
            slot = session.get(Slot, piece.slot_key)
            folder = slot.folder if slot is not None else piece.slot_key.rpartition("/")[2]
            siblings = session.scalars(
                select(Piece)
                .where(Piece.slot_key == piece.slot_key, Piece.initiative == piece.initiative)
                .order_by(Piece.id)
            ).all()
            try:
                due_at = (slot.due_at if slot is not None else piece.created_at).isoformat()
                self.packs[piece_id] = pack_files(piece, folder, due_at, list(siblings))
            except ValueError as exc:  # e.g. two pieces with one file name: fails its rows only
                self.broken_packs[piece_id] = str(exc)
                self.packs[piece_id] = ()

    def outgoing(self, claimed: Claimed) -> Outgoing:
        piece, files = self.cache[claimed.piece_id]
        if claimed.channel == "press":
            files = press_mail(piece, files, claimed, date=self.clock())
        elif claimed.channel == "pack":
            if claimed.piece_id in self.broken_packs:
                raise ValueError(f"content pack: {self.broken_packs[claimed.piece_id]}")
            files = self.packs[claimed.piece_id]
            if claimed.options.get("via") != "webhook":
                files = pack_mail(piece, files, claimed, date=self.clock())
        return Outgoing(
            delivery_key=claimed.key,
            piece_key=piece.key,
            kind="pack" if claimed.channel == "pack" else piece.kind,
            initiative=piece.initiative,
            target=claimed.target,
            files=files,
            options=claimed.options,
        )


class Connections:
    """Connections opened on first use and kept for the whole release; a broken one is dropped."""

    def __init__(self, channels: Channels) -> None:
        self.channels = channels
        self.stack = ExitStack()
        self.open: dict[str, Connection] = {}
        self.broken: dict[str, TransientError] = {}

    def __enter__(self) -> Connections:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()

    def get(self, group: str) -> Connection:
        if group in self.broken:
            raise self.broken[group]
        if group not in self.open:
            try:
                manager: AbstractContextManager[Connection] = self.channels.channel_for(
                    group
                ).connect()
                self.open[group] = self.stack.enter_context(manager)
            except TransientError as exc:
                self.broken[group] = exc
                raise
        return self.open[group]

    def drop(self, group: str, error: TransientError) -> None:
        """Forget a connection that failed mid-batch; its group waits for the next release."""
        self.broken[group] = error
        self.open.pop(group, None)


def send_chunk(
    claimed: Sequence[Claimed],
    files: PieceFiles,
    connections: Connections,
    *,
    clock: Clock,
    deadline: datetime,
) -> list[Outcome]:
    """Send each claimed row; every row gets exactly one outcome.

    Rows not yet sent at ``deadline`` (half the lease: a rate-limited or slow server) are given
    back untried, so no row is still being sent when its lease runs out and a release elsewhere
    would call it ``unknown``.
    """
    groups: dict[str, list[Claimed]] = defaultdict(list)
    for row in claimed:
        groups[connections.channels.group(row)].append(row)
    outcomes: list[Outcome] = []
    for group, rows in groups.items():
        outcomes.extend(_send_group(group, rows, files, connections, clock, deadline))
    return outcomes


def _send_group(
    group: str,
    rows: list[Claimed],
    files: PieceFiles,
    connections: Connections,
    clock: Clock,
    deadline: datetime,
) -> Iterator[Outcome]:
    try:
        connection = connections.get(group)
    except TransientError as exc:
        # Nothing left: every row waits for the next try (the server is down, or not set up).
        for row in rows:
            yield Outcome(row, "retry", error=scrub(str(exc)), retry_after=exc.retry_after)
        return
    for index, row in enumerate(rows):
        if clock() > deadline:
            for rest in rows[index:]:
                yield Outcome(rest, "released", error="given back: the claim's time ran out")
            return
        try:
            outgoing = files.outgoing(row)
        except Exception as exc:  # a message we cannot even build: nothing left, never will
            log.exception("delivery %s: cannot build its message", row.id)
            yield Outcome(row, "failed", error=scrub(f"cannot build the message: {exc}"))
            continue
        try:
            external_id = connection.send(outgoing)
        except PermanentError as exc:
            yield Outcome(row, "failed", error=scrub(str(exc)))
        except OutcomeUnknown as exc:  # it may have been accepted: never resent on our own
            yield Outcome(row, UNKNOWN, error=scrub(str(exc)))
            connections.drop(group, exc)
            for rest in rows[index + 1 :]:
                yield Outcome(rest, "released", error=scrub(str(exc)))
            return
        except TransientError as exc:
            yield Outcome(row, "retry", error=scrub(str(exc)), retry_after=exc.retry_after)
            # The connection may be gone; the rest of the group never left and waits, unharmed.
            connections.drop(group, exc)
            for rest in rows[index + 1 :]:
                yield Outcome(rest, "released", error=scrub(str(exc)))
            return
        except Exception as exc:  # neither error of the interface: the message may have left
            log.exception("delivery %s: unexpected error while sending", row.id)
            error = scrub(f"unexpected error while sending, it may have left: {exc!r}")
            yield Outcome(row, UNKNOWN, error=error)
            connections.drop(group, TransientError(error))
            for rest in rows[index + 1 :]:
                yield Outcome(rest, "released", error=error)
            return
        else:
            yield Outcome(row, "sent", external_id=external_id)


# --- recording ----------------------------------------------------------------------------------


def _events(session: Session, type_: str, payloads: list[dict[str, Any]], now: datetime) -> None:
    """One event per outcome, keyed by delivery and attempt (an attempt ends only once)."""
    if not payloads:
        return
    session.execute(
        insert(cast(Table, Event.__table__)),  # Core executemany: no ORM bookkeeping per row
        [
            {
                "key": f"{type_}:{p['delivery']}:{p['attempt']}",
                "type": type_,
                "payload": p,
                "occurred_at": now,
            }
            for p in payloads
        ],
    )


_TABLE = cast(Table, Delivery.__table__)
# One statement executed for many rows (executemany): an outcome counts only for the attempt
# it belongs to, and only while the row is still that attempt's (``sending``, or ``unknown``
# when the lease ran out mid-send: a recorded success beats a guess).
_RECORD = (
    update(_TABLE)
    .where(
        _TABLE.c.id == bindparam("b_id"),
        _TABLE.c.attempts == bindparam("b_attempt"),
        or_(_TABLE.c.status == SENDING, _TABLE.c.status == UNKNOWN),  # no IN: executemany
    )
    .values(
        status=bindparam("b_status"),
        external_id=bindparam("b_external_id"),
        last_error=bindparam("b_error"),
        next_attempt_at=bindparam("b_next"),
        delivered_at=bindparam("b_delivered"),
        attempts=bindparam("b_attempts"),
        lease_until=None,
    )
)


def record(
    session: Session,
    outcomes: Sequence[Outcome],
    *,
    now: datetime,
    policy: RetryPolicy,
    rng: random.Random,
) -> set[int]:
    """Write outcomes (only for the attempt each row was claimed with); returns piece ids."""
    if not outcomes:
        return set()
    params: list[dict[str, Any]] = []
    succeeded: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    unknown: list[dict[str, Any]] = []
    for o in outcomes:
        row = o.delivery
        status, attempts, next_at, error = o.status, row.attempt, None, o.error
        if status == "retry" and row.attempt >= policy.max_attempts:
            status, error = "failed", f"gave up after {row.attempt} attempts: {o.error}"
        elif status == "retry":
            status, next_at = PENDING, now + policy.delay(row.attempt, o.retry_after, rng)
        elif status == "released":
            status, attempts = PENDING, row.attempt - 1  # never tried: the claim does not count
        params.append(
            {
                "b_id": row.id,
                "b_attempt": row.attempt,
                "b_status": status,
                "b_external_id": o.external_id,
                "b_error": error,
                "b_next": next_at,
                "b_delivered": now if status == SENT else None,
                "b_attempts": attempts,
            }
        )
        payload = {
            "delivery": row.id,
            "key": row.key,
            "attempt": row.attempt,
            "channel": row.channel,
            "target": row.target_ref,
        }
        if status == SENT:
            succeeded.append({**payload, "external_id": o.external_id})
        elif status == FAILED:
            failed.append({**payload, "error": error})
        elif status == UNKNOWN:
            unknown.append({**payload, "error": error})
    session.connection().execute(_RECORD, params)
    _events(session, "delivery.succeeded", succeeded, now)
    _events(session, "delivery.failed", failed, now)
    _events(session, "delivery.unknown", unknown, now)
    return {o.delivery.piece_id for o in outcomes}


def settle_pieces(session: Session, piece_ids: set[int], *, now: datetime) -> None:
    """A piece is ``delivered`` once every delivery is sent (or suppressed), ``failed`` once
    one failed permanently; otherwise it stays ``scheduled``."""
    if not piece_ids:
        return
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for piece_id, status, n in session.execute(
        select(Delivery.piece_id, Delivery.status, func.count())
        .where(Delivery.piece_id.in_(piece_ids))
        .group_by(Delivery.piece_id, Delivery.status)
    ):
        counts[piece_id][status] = n
    for piece in session.scalars(select(Piece).where(Piece.id.in_(piece_ids))):
        if piece.state not in SETTLING:
            continue  # e.g. stale since: its state is the review's to keep, not ours to move
        states = counts.get(piece.id, {})
        if states.get(FAILED):
            transition(session, piece, "failed", now=now)
        elif states and set(states) <= {SENT, SUPPRESSED}:
            transition(session, piece, "delivered", now=now)


# --- the release step ---------------------------------------------------------------------------


@dataclass
class ReleaseReport:
    unknown: int = 0
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    suppressed: int = 0

    def count(self, outcomes: Sequence[Outcome], policy: RetryPolicy) -> None:
        for o in outcomes:
            if o.status == "sent":
                self.sent += 1
            elif o.status == "failed" or (
                o.status == "retry" and o.delivery.attempt >= policy.max_attempts
            ):
                self.failed += 1
            elif o.status == UNKNOWN:
                self.unknown += 1
            else:
                self.retrying += 1


def release(
    database_url: str,
    workspace: Workspace,
    channels: Channels,
    *,
    clock: Clock,
    recipients: RecipientSource | None = None,
    lease: timedelta = DEFAULT_LEASE,
    chunk: int = DEFAULT_CHUNK,
    policy: RetryPolicy = RetryPolicy(),
    rng: random.Random | None = None,
) -> ReleaseReport:
    """Send every delivery due now; safe to run twice and in several processes at once."""
    recipients = recipients if recipients is not None else SubscriberLists()
    rng = rng if rng is not None else random.Random()
    report = ReleaseReport()
    files = PieceFiles(clock)
    outcomes: list[Outcome] = []
    given_back: set[int] = set()  # rows returned untried: the next release takes them
    started = clock()
    with session_scope(database_url) as session:
        report.unknown = len(expire_leases(session, now=started))
        held = _held_pieces(session, workspace, started)
    with Connections(channels) as connections:
        while True:
            now = clock()
            with session_scope(database_url) as session:
                settle_pieces(
                    session, record(session, outcomes, now=now, policy=policy, rng=rng), now=now
                )
                report.count(outcomes, policy)
                outcomes = []
                # Only rows due when the release began: rows put back by a retry wait for the
                # next release instead of looping here.
                taken = claim(
                    session,
                    due=started,
                    lease_until=now + lease,
                    limit=chunk,
                    recipients=recipients,
                    held=held,
                    exclude=given_back,
                )
                claimed = taken.rows
                files.load(session, {c.piece_id for c in claimed})
                files.load_packs(session, {c.piece_id for c in claimed if c.channel == "pack"})
                settle_pieces(session, {c.piece_id for c in taken.suppressed}, now=now)
                report.suppressed += len(taken.suppressed)
            if not claimed and not taken.suppressed:
                break
            report.claimed += len(claimed)
            outcomes = send_chunk(
                claimed, files, connections, clock=clock, deadline=now + lease / 2
            )
            given_back.update(o.delivery.id for o in outcomes if o.status == "released")
    return report


# --- the operator's view ------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryView:
    id: int
    key: str
    piece: str
    channel: str
    target_ref: str
    status: str
    attempts: int
    due_at: datetime
    next_attempt_at: datetime | None
    external_id: str | None
    last_error: str | None
    delivered_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "piece": self.piece,
            "channel": self.channel,
            "target": self.target_ref,
            "status": self.status,
            "attempts": self.attempts,
            "due_at": self.due_at.isoformat(),
            "next_attempt_at": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
            "external_id": self.external_id,
            "error": self.last_error,
            "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None,
        }


def list_deliveries(session: Session, *, state: str | None, limit: int) -> list[DeliveryView]:
    query = (
        select(Delivery, Piece.key)
        .join(Piece, Piece.id == Delivery.piece_id)
        .order_by(Delivery.id.desc())
        .limit(limit)
    )
    if state is not None:
        query = query.where(Delivery.status == state)
    return [
        DeliveryView(
            d.id, d.key, piece_key, d.channel, d.target_ref, d.status, d.attempts, d.due_at,
            d.next_attempt_at, d.external_id, d.last_error, d.delivered_at,
        )
        for d, piece_key in session.execute(query)
    ]  # fmt: skip


class ResendRefused(ValueError):
    """The delivery is not in a state an operator may send again."""


RESENDABLE = frozenset({UNKNOWN, FAILED})


def resend(session: Session, delivery_id: int, *, now: datetime) -> Delivery:
    """The operator's decision: an ``unknown`` (or ``failed``) delivery goes out again."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise ResendRefused(f"delivery {delivery_id} does not exist")
    if delivery.status not in RESENDABLE:
        raise ResendRefused(
            f"delivery {delivery_id} is {delivery.status}; only unknown or failed ones are resent"
        )
    previous = delivery.status
    delivery.status, delivery.next_attempt_at, delivery.lease_until = PENDING, None, None
    delivery.due_at = min(delivery.due_at, now)
    piece = session.get(Piece, delivery.piece_id)
    if piece is not None and piece.state == "failed":  # it waits for this row again
        transition(session, piece, "scheduled", now=now)
    _events(
        session,
        "delivery.resend",
        [{"delivery": delivery.id, "key": delivery.key, "attempt": delivery.attempts,
          "previous": previous}],
        now,
    )  # fmt: skip
    return delivery
