"""HTTP sessions whose connections go only to addresses the SSRF guard has checked.

A guard that resolves a name, checks the answer and then lets the HTTP library resolve the name
again is defeated by a DNS server that answers a public address first and ``127.0.0.1`` the
second time (DNS rebinding). Here the resolution happens once, inside the connection: urllib3's
``_new_conn`` is replaced by one that asks :class:`AddressGuard` and connects to the returned
address itself. The host name stays everything else: the ``Host`` header, TLS SNI and the
certificate check, so HTTPS is verified against the name, not the number.

Proxies from the environment are ignored on purpose: a proxy would connect on our behalf to an
address we never checked.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from contextvars import ContextVar, Token
from http.cookiejar import DefaultCookiePolicy
from typing import Any, ClassVar, cast

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.connection import create_connection

from content.feeds.addresses import AddressGuard


class _PinnedConnectionMixin:
    """Connects to the first reachable address the guard returned for the host."""

    guard: ClassVar[AddressGuard]
    # Provided by urllib3's HTTPConnection, which this mixin precedes.
    _dns_host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any
    host: str

    def _new_conn(self) -> socket.socket:
        # AddressRefused and ResolutionFailed are not OSErrors: urllib3 lets them through
        # unchanged, so the fetcher can name the refused address.
        addresses = self.guard.resolve(self._dns_host, self.port)
        last: OSError | None = None
        for address in addresses:
            try:
                return create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except OSError as exc:  # the next address may answer; report the last failure
                last = exc
        if isinstance(last, TimeoutError):
            raise ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            ) from last
        raise NewConnectionError(
            cast(HTTPConnection, self), f"Failed to establish a new connection: {last}"
        ) from last


class Deadline:
    """Ends a whole fetch after ``seconds``, however slowly the server trickles.

    Read timeouts bound each wait for a byte, not their sum: a server sending one byte every few
    seconds keeps a fetch alive forever. While a deadline is active (``with deadline:``) every
    connection the pool hands out in this thread is watched, and when time is up its socket is
    shut down, which wakes a read blocked in the status line, the headers or the body alike.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self.done = False
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        self._token: Token[Deadline | None] | None = None

    def __enter__(self) -> Deadline:
        self._token = _active.set(self)
        _WATCHDOG.watch(self, time.monotonic() + self.seconds)
        return self

    def __exit__(self, *_: object) -> None:
        with self._lock:
            # The watchdog forgets it when it comes round; until then, expire() does nothing,
            # so a connection already back in the pool, serving another fetch, stays open.
            self.done = True
        if self._token is not None:
            _active.reset(self._token)

    def watch(self, connection: Any) -> None:
        with self._lock:
            if self.expired:
                _shut(connection)
            self._connections.append(connection)

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            for connection in self._connections:
                _shut(connection)


class _Watchdog:
    """One thread for all deadlines: a timer thread per fetch would cost more than the fetch."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Deadline]] = []
        self._counter = itertools.count()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: Deadline, at: float) -> None:
        with self._condition:
            heapq.heappush(self._due, (at, next(self._counter), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="fetch-deadlines", daemon=True
                )
                self._thread.start()
            self._condition.notify()

    def _run(self) -> None:
        with self._condition:
            while True:
                while self._due and self._due[0][2].done:
                    heapq.heappop(self._due)
                if not self._due:
                    self._condition.wait()
                    continue
                at, _, deadline = self._due[0]
                wait = at - time.monotonic()
                if wait > 0:
                    self._condition.wait(wait)
                    continue
                heapq.heappop(self._due)
                deadline.expire()


_WATCHDOG = _Watchdog()


_active: ContextVar[Deadline | None] = ContextVar("fetch_deadline", default=None)


def deadline_passed() -> bool:
    """Whether the deadline of the fetch running in this thread has passed."""
    deadline = _active.get()
    return deadline is not None and deadline.expired


def _watched(connection: Any) -> Any:
    deadline = _active.get()
    if deadline is not None:
        deadline.watch(connection)
    return connection


def _shut(connection: Any) -> None:
    sock = getattr(connection, "sock", None)
    if sock is None:
        return
    with contextlib.suppress(OSError):  # already closed: nothing left to wake
        sock.shutdown(socket.SHUT_RDWR)


def _pool_classes(guard: AddressGuard) -> dict[str, type[HTTPConnectionPool]]:
    """Pool classes for one guard; a class attribute, since urllib3's pool keys are fixed."""

    class PinnedHTTPConnection(_PinnedConnectionMixin, HTTPConnection):
        pass

    class PinnedHTTPSConnection(_PinnedConnectionMixin, HTTPSConnection):
        pass

    PinnedHTTPConnection.guard = guard
    PinnedHTTPSConnection.guard = guard

    class PinnedHTTPConnectionPool(HTTPConnectionPool):
        ConnectionCls = PinnedHTTPConnection

        def _get_conn(self, timeout: float | None = None) -> Any:
            return _watched(super()._get_conn(timeout))

    class PinnedHTTPSConnectionPool(HTTPSConnectionPool):
        ConnectionCls = PinnedHTTPSConnection

        def _get_conn(self, timeout: float | None = None) -> Any:
            return _watched(super()._get_conn(timeout))

    return {"http": PinnedHTTPConnectionPool, "https": PinnedHTTPSConnectionPool}


class PinnedAdapter(HTTPAdapter):
    """A requests adapter whose every new connection passes the guard."""

    def __init__(self, guard: AddressGuard, **kwargs: Any) -> None:
        self._guard = guard
        super().__init__(**kwargs)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self._guard)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise requests.exceptions.InvalidURL(
            f"proxy {proxy} refused: feeds are fetched directly from checked addresses"
        )


def guarded_session(guard: AddressGuard, *, connections: int = 8) -> requests.Session:
    """A session for feeds: pinned connections, no proxies from the environment, no cookies.

    Cookies are refused because one feed's server has no business setting state that later
    requests (to it or, through a shared domain, to others) would carry.
    """
    session = requests.Session()
    session.trust_env = False
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    adapter = PinnedAdapter(guard, pool_connections=64, pool_maxsize=max(1, connections))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
