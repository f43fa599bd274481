"""The one small interface every delivery channel implements.

A channel turns one :class:`Outgoing` (a piece's files addressed to one target) into one
message on the outside: a mail, a webhook call, a status. The caller owns exactly-once: it
records the delivery as ``sending`` before :meth:`Session.send` and as ``sent`` after, so a
channel only has to say what happened, by its return value or by one of the two errors below.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Attachment:
    name: str
    media_type: str
    content: bytes


@dataclass(frozen=True)
class Outgoing:
    """One delivery: what to send, to whom, and the key that makes a repeat recognisable."""

    delivery_key: str
    piece_key: str
    kind: str  # newsletter | social | press_release | pack | notification | test
    initiative: str
    target: str  # an address, a URL, an account handle
    files: tuple[Attachment, ...]
    # Channel-specific values derived by the caller (subject, unsubscribe URL, audience, ...).
    options: dict[str, str] = field(default_factory=dict)

    def file(self, suffix: str) -> Attachment | None:
        """The first file whose name ends with ``suffix`` (``.eml``, ``.txt``, ``.html``)."""
        return next((f for f in self.files if f.name.endswith(suffix)), None)


class TransientError(Exception):
    """Try again later: connection refused, 4xx SMTP reply, HTTP 429 or 5xx.

    ``retry_after`` (seconds) is the server's own wish (``Retry-After``), which beats our backoff.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OutcomeUnknown(TransientError):
    """The connection broke after the message was handed over: it may have been accepted.

    Nothing was refused, so it is transient for the channel; but exactly-once means the caller
    records the delivery as ``unknown`` and leaves a resend to an operator.
    """


class PermanentError(Exception):
    """Never try again: 5xx SMTP reply, invalid address, HTTP 4xx other than 429."""


class Connection(Protocol):
    def send(self, outgoing: Outgoing) -> str:
        """Send one message; return its external id (Message-ID, status id, record URI)."""
        ...


class Channel(Protocol):
    name: str

    def connect(self) -> AbstractContextManager[Connection]:
        """One connection for a batch (an SMTP session, an HTTP session with its login)."""
        ...


def send_all(channel: Channel, batch: list[Outgoing]) -> Iterator[tuple[Outgoing, str]]:
    """Send a batch over one connection; stops at the first error, which propagates."""
    with channel.connect() as connection:
        for outgoing in batch:
            yield outgoing, connection.send(outgoing)
