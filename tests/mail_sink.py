"""A real SMTP server for tests: aiosmtpd on a free loopback port, keeping what it received.

Runs in the test process (aiosmtpd's Controller thread), so a test counts messages directly;
``stop()`` and ``start()`` on the same port model a mail server that goes down and comes back.
For the SMTP channel's own tests it also speaks TLS (``tls_context=`` for STARTTLS,
``ssl_context=`` for implicit TLS), takes ``credentials=(user, password)`` for AUTH, and drops the
connection in the middle of DATA for the addresses in ``drop``.
"""

from __future__ import annotations

import email
import email.policy
import threading
from asyncio import Transport
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.services import free_port


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Handler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        reply = self.sink.reject.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        transport = server.transport
        if self.sink.drop.intersection(envelope.rcpt_tos) and isinstance(transport, Transport):
            transport.abort()  # gone before the reply: the client cannot know
            return "421 gone"
        data = envelope.content if isinstance(envelope.content, bytes) else b""
        with self.sink.lock:
            self.sink.messages.append(
                Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), data)
            )
        return "250 Message accepted for delivery"


class MailSink:
    """aiosmtpd on 127.0.0.1; ``reject`` maps an address to the reply its RCPT gets."""

    def __init__(
        self,
        port: int | None = None,
        *,
        credentials: tuple[str, str] | None = None,
        **controller_options: Any,
    ) -> None:
        self.port = port or free_port()
        self.messages: list[Received] = []
        self.reject: dict[str, str] = {}
        self.drop: set[str] = set()
        self.logins: list[tuple[str, bool]] = []  # (user, accepted) per AUTH attempt
        self.lock = threading.Lock()
        self._credentials = credentials
        if credentials is not None:
            controller_options.setdefault("authenticator", self._authenticate)
        self._options = controller_options
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        scheme = "smtps" if self._options.get("ssl_context") else "smtp"
        return f"{scheme}://127.0.0.1:{self.port}"

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert self._credentials is not None
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        accepted = (user, password) == self._credentials
        with self.lock:
            self.logins.append((user, accepted))
        return AuthResult(success=accepted, handled=False, auth_data=auth_data)

    def start(self) -> MailSink:
        self._controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port, **self._options
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def received(self) -> list[Received]:
        with self.lock:
            return list(self.messages)
