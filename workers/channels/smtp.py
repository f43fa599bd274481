"""The SMTP channel: one persistent connection per batch, one message per delivery.

The piece's ``.eml`` is sent as composed, addressed to the recipient, with a Message-ID derived
from the delivery key, so a receiver can drop a repeat even if we ever send one twice.
The server comes from ``DEPESCHE_SMTP_URL`` (``smtp://user:password@host:port``); the password
never appears in a log line or an error message.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import hashlib
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from workers.channels.base import Outgoing, PermanentError, TransientError


def message_id(delivery_key: str, domain: str) -> str:
    """A Message-ID that is the same for every attempt of one delivery."""
    digest = hashlib.sha256(delivery_key.encode()).hexdigest()[:40]
    return f"<{digest}@{domain}>"


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("DEPESCHE_SMTP_URL must look like smtp://user:password@host:port")
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit,
        )

    def __repr__(self) -> str:  # never show the password
        return f"SmtpServer({self.host}:{self.port})"


def personalise(outgoing: Outgoing) -> tuple[str, bytes]:
    """The message for one recipient: the piece's .eml with To and Message-ID set."""
    eml = outgoing.file(".eml")
    if eml is None:
        raise PermanentError(f"piece {outgoing.piece_key} has no .eml file to send")
    message = email.message_from_bytes(eml.content, policy=email.policy.SMTP)
    assert isinstance(message, EmailMessage)
    sender = email.utils.parseaddr(str(message["From"]))[1]
    domain = sender.rpartition("@")[2] or "depesche.invalid"
    for header in ("To", "Message-ID"):
        del message[header]
    message["To"] = outgoing.target
    message["Message-ID"] = message_id(outgoing.delivery_key, domain)
    return sender, message.as_bytes()


class _Connection:
    def __init__(self, client: smtplib.SMTP) -> None:
        self.client = client

    def send(self, outgoing: Outgoing) -> str:
        sender, data = personalise(outgoing)
        try:
            refused = self.client.sendmail(sender, [outgoing.target], data)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _classified(code, reply) from None
        except smtplib.SMTPResponseException as exc:
            raise _classified(exc.smtp_code, exc.smtp_error) from None
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise TransientError(f"SMTP connection lost: {type(exc).__name__}") from None
        if refused:
            code, reply = next(iter(refused.values()))
            raise _classified(code, reply)
        message = email.message_from_bytes(data, policy=email.policy.SMTP)
        return str(message["Message-ID"])


def _classified(code: int, reply: bytes | str) -> Exception:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    if 400 <= code < 500:
        return TransientError(f"SMTP {code}: {text}")
    return PermanentError(f"SMTP {code}: {text}")


class SmtpChannel:
    name = "email"

    def __init__(self, server: SmtpServer, *, timeout: float = 30.0) -> None:
        self.server = server
        self.timeout = timeout

    @classmethod
    def from_url(cls, url: str) -> SmtpChannel:
        return cls(SmtpServer.from_url(url))

    @contextmanager
    def connect(self) -> Iterator[_Connection]:
        server = self.server
        try:
            if server.implicit_tls:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    server.host, server.port, timeout=self.timeout
                )
            else:
                client = smtplib.SMTP(server.host, server.port, timeout=self.timeout)
            if server.username and server.password:
                client.login(server.username, server.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentError(f"SMTP login refused by {server.host}: {exc.smtp_code}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientError(
                f"SMTP server {server.host}:{server.port} unreachable: {type(exc).__name__}"
            ) from None
        try:
            yield _Connection(client)
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
