"""The SMTP channel: one persistent connection per batch, one message per delivery.

The piece's ``.eml`` is sent as composed, addressed to the recipient, with a Message-ID derived
from the delivery key, so a receiver can drop a repeat even if we ever send one twice; the
per-recipient parts (``To``, ``List-Unsubscribe``, the unsubscribe link) are filled in by
workers/channels/smtp_message.py, optionally signed by workers/channels/dkim.py.

The server comes from ``DEPESCHE_SMTP_URL``::

    smtp://user:password@host:port     STARTTLS whenever the server offers it
    smtp://...?starttls=required       refuse to send without STARTTLS
    smtp://...?starttls=off            plain text (a local sink), AUTH in clear allowed
    smtps://user:password@host:port    implicit TLS (port 465)
    ...&rate=20&burst=5&timeout=30     messages per second, burst, socket timeout (seconds)

Certificates are always verified, against the system's CAs or ``DEPESCHE_SMTP_CA_FILE``.
Credentials are never sent over an unencrypted connection unless ``starttls=off`` says so. The
password never appears in a repr, a log line or an error message.

Errors: 4xx replies and network trouble are :class:`TransientError`; 5xx replies and refused or
invalid addresses are :class:`PermanentError`. Whatever stops :meth:`SmtpChannel.connect` (a
refused login, TLS unavailable or unverifiable, the server unreachable) is a
:class:`TransientError` naming the cause: it is not the deliveries' fault, so they wait until an
operator fixes the configuration instead of being failed for good.

After a 421 or a dropped connection the connection re-opens itself on the next :meth:`send`, so
a caller may simply go on with the rest of its batch; a connection found dead before a message
was handed over is re-opened and the message sent at once. A connection lost after the message
was handed over raises :class:`OutcomeUnknown`: the server may have accepted it.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from config.settings import Settings, current_settings
from workers.channels.base import OutcomeUnknown, Outgoing, PermanentError, TransientError
from workers.channels.dkim import DkimSigner
from workers.channels.rate_limit import TokenBucket
from workers.channels.smtp_message import Rendered, render
from workers.channels.smtp_message import message_id as message_id

__all__ = [
    "OutcomeUnknown",
    "SmtpChannel",
    "SmtpConnection",
    "SmtpServer",
    "message_id",
    "personalise",
]

STARTTLS_MODES = ("auto", "required", "off")


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    implicit_tls: bool = False
    starttls: str = "auto"  # auto | required | off
    rate: float | None = None  # messages per second
    burst: int = 1
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        """Parse ``DEPESCHE_SMTP_URL``; errors name the variable, never repeat the URL."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ValueError("DEPESCHE_SMTP_URL: the port is not a number") from None
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("DEPESCHE_SMTP_URL must look like smtp://user:password@host:port")
        implicit = parts.scheme == "smtps"
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = sorted(set(options) - {"starttls", "rate", "burst", "timeout"})
        if unknown:
            raise ValueError(f"DEPESCHE_SMTP_URL: unknown option {unknown[0]!r}")
        starttls = options.get("starttls", "auto")
        if starttls not in STARTTLS_MODES:
            raise ValueError("DEPESCHE_SMTP_URL: starttls must be auto, required or off")
        if implicit and "starttls" in options:
            raise ValueError("DEPESCHE_SMTP_URL: smtps:// is TLS already; drop ?starttls")
        return cls(
            host=parts.hostname,
            port=port or (465 if implicit else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit,
            starttls=starttls,
            rate=_number(options, "rate", float),
            burst=int(_number(options, "burst", int) or 1),
            timeout=_number(options, "timeout", float) or 30.0,
        )

    def __repr__(self) -> str:  # never show the password
        scheme = "smtps" if self.implicit_tls else "smtp"
        user = f"{self.username}@" if self.username else ""
        return f"SmtpServer({scheme}://{user}{self.host}:{self.port})"


def _number(options: dict[str, str], name: str, kind: type[float] | type[int]) -> float | None:
    if name not in options:
        return None
    try:
        value = kind(options[name])
    except ValueError:
        raise ValueError(f"DEPESCHE_SMTP_URL: {name} must be a number") from None
    if value <= 0:
        raise ValueError(f"DEPESCHE_SMTP_URL: {name} must be positive")
    return float(value)


def personalise(outgoing: Outgoing) -> tuple[str, bytes]:
    """The message for one recipient (unsigned): envelope sender and bytes."""
    rendered = render(outgoing)
    return rendered.sender, rendered.data


class SmtpChannel:
    name = "email"

    def __init__(
        self,
        server: SmtpServer,
        *,
        timeout: float | None = None,
        ca_file: Path | str | None = None,
        dkim: DkimSigner | None = None,
        rate: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.server = server
        self.timeout = timeout if timeout is not None else server.timeout
        self.ca_file = Path(ca_file) if ca_file is not None else None
        self.dkim = dkim
        rate = server.rate or rate
        # One bucket per channel: every connection this process opens to the server shares it.
        self.bucket = TokenBucket(rate, server.burst, clock=clock, sleep=sleep) if rate else None

    def __repr__(self) -> str:
        return f"SmtpChannel({self.server!r})"

    @classmethod
    def from_url(cls, url: str, *, settings: Settings | None = None) -> SmtpChannel:
        """The channel for ``url``, with CA file, rate and DKIM from settings (the environment)."""
        settings = settings if settings is not None else current_settings()
        return cls(
            SmtpServer.from_url(url),
            ca_file=settings.smtp_ca_file,
            dkim=DkimSigner.from_settings(settings),
            rate=settings.smtp_rate,
        )

    def tls_context(self) -> ssl.SSLContext:
        """Verifying context; with a CA file, that CA is the only one trusted."""
        if self.ca_file is None:
            return ssl.create_default_context()
        try:
            return ssl.create_default_context(cafile=str(self.ca_file))
        except (OSError, ssl.SSLError):
            raise TransientError(f"DEPESCHE_SMTP_CA_FILE: cannot read {self.ca_file}") from None

    def open(self) -> smtplib.SMTP:
        """A logged-in SMTP session, or a classified error naming the host only."""
        server = self.server
        where = f"{server.host}:{server.port}"
        client: smtplib.SMTP | None = None
        try:
            if server.implicit_tls:
                client = smtplib.SMTP_SSL(
                    server.host, server.port, timeout=self.timeout, context=self.tls_context()
                )
                encrypted = True
            else:
                client = smtplib.SMTP(server.host, server.port, timeout=self.timeout)
                encrypted = self._starttls(client, where)
            client.ehlo_or_helo_if_needed()
            if server.username and server.password:
                if not encrypted and server.starttls != "off":
                    raise TransientError(
                        f"SMTP server {where} offers no STARTTLS: refusing to send the "
                        "password in clear (add ?starttls=off to the URL to allow it)"
                    )
                client.login(server.username, server.password)
            return client
        except TransientError:
            _close(client)
            raise
        except smtplib.SMTPAuthenticationError as exc:
            _close(client)
            raise TransientError(
                f"SMTP login as {server.username!r} refused by {where}: {exc.smtp_code} "
                "(check the credentials in DEPESCHE_SMTP_URL)"
            ) from None
        except smtplib.SMTPNotSupportedError:
            _close(client)
            raise TransientError(f"SMTP server {where} does not offer AUTH") from None
        except ssl.SSLCertVerificationError as exc:
            _close(client)
            raise TransientError(
                f"SMTP server {where}: TLS certificate not trusted ({exc.verify_message})"
            ) from None
        except smtplib.SMTPResponseException as exc:
            _close(client)
            text = _reply_text(exc.smtp_error)
            raise TransientError(
                f"SMTP server {where} refused us: {exc.smtp_code} {text}"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            _close(client)
            raise TransientError(f"SMTP server {where} unreachable: {type(exc).__name__}") from None

    def _starttls(self, client: smtplib.SMTP, where: str) -> bool:
        mode = self.server.starttls
        if mode == "off":
            return False
        client.ehlo()
        if not client.has_extn("starttls"):
            if mode == "required":
                raise TransientError(f"SMTP server {where} offers no STARTTLS (required)")
            return False
        code, reply = client.starttls(context=self.tls_context())
        if code != 220:
            raise TransientError(f"STARTTLS with {where} refused: {code} {_reply_text(reply)}")
        return True

    @contextmanager
    def connect(self) -> Iterator[SmtpConnection]:
        connection = SmtpConnection(self)
        connection.reopen()
        try:
            yield connection
        finally:
            connection.close()


class SmtpConnection:
    """One SMTP session for a batch; re-opens itself after the server dropped it."""

    def __init__(self, channel: SmtpChannel) -> None:
        self.channel = channel
        self.client: smtplib.SMTP | None = None
        self.opened = 0  # how many sessions this connection has opened (tests and logs)

    def reopen(self) -> None:
        self.close()
        self.client = self.channel.open()
        self.opened += 1

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()

    def send(self, outgoing: Outgoing) -> str:
        rendered = render(outgoing)
        data = rendered.data
        if self.channel.dkim is not None:
            data = self.channel.dkim.sign(data) + data
        if self.channel.bucket is not None:
            self.channel.bucket.acquire()
        if self.client is None:
            self.reopen()
        try:
            self._transaction(rendered, data)
        except _Stale:
            # Dead before the message was handed over (an idle timeout, a restart): nothing can
            # have been delivered, so a fresh session may send it right away.
            self.reopen()
            try:
                self._transaction(rendered, data)
            except _Stale:
                self._drop()
                raise TransientError("SMTP connection lost before sending") from None
        return rendered.message_id

    def _transaction(self, rendered: Rendered, data: bytes) -> None:
        client = self.client
        assert client is not None
        try:
            code, reply = client.mail(rendered.sender)
        except (smtplib.SMTPServerDisconnected, OSError):
            raise _Stale() from None
        if code == 421:
            self._drop()
            raise _Stale()
        self._check(code, reply, f"sender {rendered.sender}")
        try:
            code, reply = client.rcpt(rendered.recipient)
            self._check(code, reply, "recipient", ok=(250, 251))
            code, reply = client.data(data)
            self._check(code, reply, "message")
        except smtplib.SMTPDataError as exc:
            self._check(exc.smtp_code, exc.smtp_error, "message")
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise OutcomeUnknown(
                f"SMTP connection lost while sending: {type(exc).__name__}; the server may "
                "have accepted the message"
            ) from None

    def _check(
        self, code: int, reply: bytes | str, what: str, ok: tuple[int, ...] = (250,)
    ) -> None:
        if code in ok:
            return
        if code == 421 or code < 0:
            self._drop()
        else:
            try:
                assert self.client is not None
                self.client.rset()
            except (smtplib.SMTPException, OSError):
                self._drop()
        raise _classified(code, reply, f"{what} refused")

    def _drop(self) -> None:
        """Forget a broken session; the next send opens a new one."""
        client, self.client = self.client, None
        _close(client)


class _Stale(Exception):
    """The session died before the message was handed over."""


def _close(client: smtplib.SMTP | None) -> None:
    if client is not None:
        with suppress(OSError):
            client.close()


def _reply_text(reply: bytes | str) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())


def _classified(code: int, reply: bytes | str, what: str) -> Exception:
    text = _reply_text(reply)
    if 400 <= code < 500 or code < 0:
        return TransientError(f"SMTP {code}: {what}: {text}")
    return PermanentError(f"SMTP {code}: {what}: {text}")
