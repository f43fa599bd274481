"""Mails around the review: asking a level's reviewers to approve, and test copies of a piece.

A piece waiting for a level's approval sends each of that level's reviewers one German mail with
a preview (the piece's text in the body, its HTML and documents attached) and the command that
approves it. Each (piece, level, reviewer) is written as ``sending`` and committed before the
mail leaves, and a unique constraint keeps it to one: a repeated event, a second worker or the
catch-up command ``depesche review notify`` finds the row and sends nothing.

``depesche send-test`` sends a copy of a piece marked as a test (subject ``[TEST] …``, header
``X-Depesche-Test: yes``); it is recorded as the event ``piece.test_sent`` and never as a
delivery. Both go through the SMTP channel's public interface only.
"""

from __future__ import annotations

import email
import logging
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns.workspace import Workspace
from config.db import session_scope
from config.models import record_event
from config.settings import current_settings
from content.formatting import Formatter
from content.models import Piece, PieceFile, ReviewNotification
from content.review import DRAFT, find_piece, pending_levels
from workers.channels.base import Attachment, Channel, Outgoing, PermanentError, TransientError
from workers.handlers import EventContext, EventRecord, current_workspace, subscribe

log = logging.getLogger(__name__)

TEST_HEADER = "X-Depesche-Test"
TEST_PREFIX = "[TEST] "
LEVEL_NAMES = {
    "network": "Pressestelle des Bündnisses",
    "initiative": "Initiative (eigene Ausgabe)",
}
KIND_NAMES = {
    "newsletter": "Newsletter",
    "social": "Social-Media-Beitrag",
    "press_release": "Pressemitteilung",
}
# Shown in the body as the preview, in this order of preference.
_TEXT_TYPES = ("text/plain", "text/markdown")
# Never attached: the newsletter's own message (its HTML is attached) and the content pack.
_NOT_ATTACHED = (".eml", ".zip")


class ReviewMailError(Exception):
    """A review mail that cannot be built: no reviewers, no sender address."""


# --- who and what ---------------------------------------------------------------------------


def reviewers(workspace: Workspace, piece: Piece, level: str) -> tuple[str, ...]:
    """``network``: the PR team from depesche.toml; ``initiative``: its reviewers or press
    contact."""
    if level == "network":
        return tuple(workspace.config.review.network)
    initiative = workspace.initiatives.get(piece.initiative)
    if initiative is None:
        return ()
    return initiative.reviewer_addresses


def sender_address(workspace: Workspace) -> str:
    review = workspace.config.review
    if review.sender:
        return review.sender
    if review.network:
        return review.network[0]
    raise ReviewMailError(
        "depesche.toml: [review] names neither sender nor network addresses to send from"
    )


def _label(piece: Piece) -> str:
    kind = KIND_NAMES.get(piece.kind, piece.kind)
    return f"{kind} ({piece.platform})" if piece.platform else kind


def preview_text(piece: Piece) -> str:
    """The piece's text as the reviewer reads it in the mail body."""
    for media_type in _TEXT_TYPES:
        texts = [f for f in piece.files if f.media_type == media_type]
        if texts:
            return "\n\n".join(f.content.decode("utf-8", errors="replace").strip() for f in texts)
    return "(Dieses Stück hat keine Textfassung; bitte die Anhänge prüfen.)"


def _attachments(piece: Piece) -> list[PieceFile]:
    return [
        f
        for f in piece.files
        if f.media_type not in _TEXT_TYPES and not f.name.endswith(_NOT_ATTACHED)
    ]


def _message(
    *, sender: str, recipient: str, subject: str, body: str, piece: Piece, now: datetime
) -> EmailMessage:
    message = EmailMessage(policy=SMTP)
    local, _, domain = sender.partition("@")
    message["From"] = Address(display_name="Depesche", username=local, domain=domain)
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=domain or "depesche.invalid")
    message.set_content(body, subtype="plain", charset="utf-8", cte="quoted-printable")
    for file in _attachments(piece):
        maintype, _, subtype = file.media_type.partition("/")
        message.add_attachment(
            file.content,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=file.name,
        )
    return message


def review_mail(
    workspace: Workspace, piece: Piece, level: str, recipient: str, *, now: datetime
) -> bytes:
    """The German request to approve ``piece`` at ``level``, as an RFC 5322 message."""
    campaign = workspace.campaigns.get(piece.campaign)
    initiative = workspace.initiatives.get(piece.initiative)
    title = campaign.title if campaign is not None else piece.campaign
    name = initiative.name if initiative is not None else piece.initiative
    fmt = Formatter("de_DE", campaign.timezone if campaign is not None else "Europe/Berlin")
    lines = [
        "Guten Tag,",
        "",
        f"für die Kampagne „{title}“ liegt ein Entwurf zur Freigabe vor.",
        "",
        f"Art: {_label(piece)}",
        f"Initiative: {name}",
        f"Freigabestufe: {LEVEL_NAMES.get(level, level)}",
    ]
    if piece.send_at is not None:
        lines.append(f"Versand frühestens: {fmt.datetime_long(piece.send_at)}")
    if piece.embargo_until is not None:
        lines.append(f"Sperrfrist: {fmt.datetime_long(piece.embargo_until)}")
    lines += [
        "",
        "Freigeben:",
        f'  depesche review approve {piece.id} --level {level} --by "Ihr Name"',
        "Ablehnen:",
        f'  depesche review reject {piece.id} --by "Ihr Name" --reason "…"',
        "Kommentieren:",
        f'  depesche review comment {piece.id} --by "Ihr Name" "Ihr Kommentar"',
        "",
        "Vorschau:",
        "",
        preview_text(piece),
        "",
    ]
    if _attachments(piece):
        lines += ["Die weiteren Fassungen (HTML, PDF, Word, Bilder) hängen an.", ""]
    lines += [
        "Mit freundlichen Grüßen",
        "Depesche",
        "",
        f"Stück {piece.id}: {piece.key}",
    ]
    subject = f"Freigabe erbeten: {_label(piece)} „{title}“ – {name}"
    message = _message(
        sender=sender_address(workspace),
        recipient=recipient,
        subject=subject,
        body="\n".join(lines),
        piece=piece,
        now=now,
    )
    return message.as_bytes(policy=SMTP)


def test_mail(workspace: Workspace, piece: Piece, recipient: str, *, now: datetime) -> bytes:
    """A copy of the piece marked as a test: its own message for a newsletter, else its text."""
    own = next((f for f in piece.files if f.name.endswith(".eml")), None)
    if own is not None:
        parsed = email.message_from_bytes(own.content, policy=SMTP)
        assert isinstance(parsed, EmailMessage)
        subject = str(parsed["Subject"] or "")
        del parsed["Subject"]
        parsed["Subject"] = TEST_PREFIX + subject
        parsed[TEST_HEADER] = "yes"
        return parsed.as_bytes(policy=SMTP)
    campaign = workspace.campaigns.get(piece.campaign)
    title = campaign.title if campaign is not None else piece.campaign
    body = "\n".join(
        [
            "Dies ist ein Testversand. Er zählt nicht als Versand des Stücks.",
            "",
            preview_text(piece),
            "",
            f"Stück {piece.id}: {piece.key}",
        ]
    )
    message = _message(
        sender=sender_address(workspace),
        recipient=recipient,
        subject=f"{TEST_PREFIX}{_label(piece)} „{title}“",
        body=body,
        piece=piece,
        now=now,
    )
    message[TEST_HEADER] = "yes"
    return message.as_bytes(policy=SMTP)


# --- sending --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notified:
    piece: str
    level: str
    address: str
    status: str  # sent | failed
    message_id: str | None = None
    error: str | None = None


def _claim(session: Session, piece: Piece, level: str, address: str, now: datetime) -> bool:
    """Take the (piece, level, reviewer) mail for this process; False when it is taken or sent."""
    row = session.scalar(
        select(ReviewNotification).where(
            ReviewNotification.piece_id == piece.id,
            ReviewNotification.level == level,
            ReviewNotification.address == address,
        )
    )
    if row is not None:
        if row.status != "failed":
            return False
        row.status, row.error = "sending", None
        return True
    try:
        with session.begin_nested():
            session.add(
                ReviewNotification(
                    piece_id=piece.id,
                    level=level,
                    address=address,
                    status="sending",
                    created_at=now,
                )
            )
    except IntegrityError:
        return False  # another worker took it a moment ago
    return True


def _finish(database_url: str, piece_id: int, level: str, result: Notified, now: datetime) -> None:
    with session_scope(database_url) as session:
        row = session.scalar(
            select(ReviewNotification).where(
                ReviewNotification.piece_id == piece_id,
                ReviewNotification.level == level,
                ReviewNotification.address == result.address,
            )
        )
        if row is None:
            return
        row.status, row.message_id, row.error = result.status, result.message_id, result.error
        if result.status == "sent":
            row.sent_at = now


def notify_reviewers(
    database_url: str, workspace: Workspace, piece_id: int, channel: Channel, *, now: datetime
) -> list[Notified]:
    """Ask the reviewers of the level ``piece_id`` waits for; each of them once.

    Returns what was sent (or failed) now; nothing when the piece waits for nobody, or everyone
    was asked already. A failed mail is tried again by the next call.
    """
    outgoing: list[Outgoing] = []
    with session_scope(database_url) as session:
        piece = session.get(Piece, piece_id)
        if piece is None or piece.state != DRAFT:
            return []
        pending = pending_levels(session, piece)
        if not pending:
            return []
        level = pending[0]
        addresses = reviewers(workspace, piece, level)
        if not addresses:
            log.warning("piece %s waits for level %s, which names no reviewers", piece_id, level)
            return []
        for address in addresses:
            if not _claim(session, piece, level, address, now):
                continue
            eml = review_mail(workspace, piece, level, address, now=now)
            outgoing.append(
                Outgoing(
                    delivery_key=f"review/{piece.id}/{level}/{address}",
                    piece_key=piece.key,
                    kind="notification",
                    initiative=piece.initiative,
                    target=address,
                    files=(Attachment("review.eml", "message/rfc822", eml),),
                )
            )
        piece_key = piece.key
    results = _send(channel, outgoing, piece_key, level)
    for result in results:
        _finish(database_url, piece_id, level, result, now)
    return results


def _send(channel: Channel, batch: list[Outgoing], piece_key: str, level: str) -> list[Notified]:
    """Send each mail; an error is recorded per mail instead of stopping the others."""
    if not batch:
        return []
    results: list[Notified] = []
    try:
        with channel.connect() as connection:
            for item in batch:
                try:
                    mid = connection.send(item)
                except (TransientError, PermanentError) as exc:
                    results.append(
                        Notified(piece_key, level, item.target, "failed", error=str(exc))
                    )
                else:
                    results.append(Notified(piece_key, level, item.target, "sent", message_id=mid))
    except (TransientError, PermanentError) as exc:
        done = {r.address for r in results}
        results += [
            Notified(piece_key, level, item.target, "failed", error=str(exc))
            for item in batch
            if item.target not in done
        ]
    return results


def send_test(
    database_url: str,
    workspace: Workspace,
    reference: str,
    address: str,
    channel: Channel,
    *,
    now: datetime,
) -> str:
    """Send a test copy of a piece to ``address``; returns its Message-ID.

    Recorded as ``piece.test_sent`` (who got it, when), never as a delivery: the piece's state
    and its deliveries stay as they are.
    """
    with session_scope(database_url) as session:
        piece = find_piece(session, reference)
        eml = test_mail(workspace, piece, address, now=now)
        item = Outgoing(
            delivery_key=f"test/{piece.id}/{address}/{now.isoformat()}",
            piece_key=piece.key,
            kind="test",
            initiative=piece.initiative,
            target=address,
            files=(Attachment("test.eml", "message/rfc822", eml),),
        )
        piece_id, piece_key = piece.id, piece.key
    with channel.connect() as connection:
        message_id = connection.send(item)
    with session_scope(database_url) as session:
        record_event(
            session,
            "piece.test_sent",
            f"piece.test_sent:{piece_id}:{address}:{now.isoformat()}",
            {"piece": piece_key, "piece_id": piece_id, "to": address, "message_id": message_id},
            now,
        )
    return message_id


# --- reacting to the review's events --------------------------------------------------------


def smtp_channel() -> Channel | None:
    """The SMTP channel from ``DEPESCHE_SMTP_URL``, or None when no server is configured."""
    from workers.channels.smtp import SmtpChannel

    url = current_settings().smtp_url
    return SmtpChannel.from_url(url) if url else None


@subscribe("piece.drafted")
@subscribe("piece.level_approved")
def notify_on_review_event(context: EventContext, event: EventRecord) -> None:
    """A new draft, or a level's approval: the next level's reviewers are asked."""
    channel = smtp_channel()
    if channel is None:
        log.info("no DEPESCHE_SMTP_URL: reviewers of %s are not mailed", event.payload.get("piece"))
        return
    piece_key = str(event.payload.get("piece", ""))
    with session_scope(context.database_url) as session:
        piece_id = session.scalar(select(Piece.id).where(Piece.key == piece_key))
    if piece_id is None:
        return
    workspace = current_workspace(context.workspace_root)
    for result in notify_reviewers(
        context.database_url, workspace, piece_id, channel, now=context.now
    ):
        if result.status == "failed":
            log.warning("review mail to a reviewer of %s failed: %s", result.piece, result.error)


def notify_all(
    database_url: str, workspace: Workspace, channel: Channel, *, now: datetime
) -> list[Notified]:
    """Catch up: ask the reviewers of every draft that waits for them and was not asked yet."""
    with session_scope(database_url) as session:
        ids = list(session.scalars(select(Piece.id).where(Piece.state == DRAFT).order_by(Piece.id)))
    results: list[Notified] = []
    for piece_id in ids:
        results += notify_reviewers(database_url, workspace, piece_id, channel, now=now)
    return results
