"""Loopback HTTP servers and fake DNS for the feed tests: real sockets, hostile on demand.

The server serves whatever a test puts on a path and answers conditional GETs the way a
well-behaved feed host does, or the way a hostile one does (trickling, compressing a bomb,
redirecting inwards). DNS is played by :class:`FakeResolver` where a test needs host names;
nothing leaves the loopback interface.
"""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from content.feeds.addresses import ResolutionFailed

# --- HTTP server --------------------------------------------------------------------------------

LOOPBACK_ONLY = ["127.0.0.1/32"]
DATA = Path(__file__).parent / "data"


@dataclass
class Route:
    """What one path answers. ``encoding`` compresses the body (gzip or deflate) unless
    ``precompressed``; ``trickle`` sends the body a byte at a time with that pause between."""

    body: bytes
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    send_length: bool = True
    delay: float = 0.0
    encoding: str | None = None
    precompressed: bool = False
    trickle: float = 0.0


@dataclass
class Request:
    path: str
    headers: dict[str, str]


class FeedServer:
    """What the server serves (``routes``) and what it was asked (``requests``).

    ``most_in_flight`` records the most requests that were ever being answered at once, per
    ``Host`` header and in total, so tests can see politeness and parallelism.
    """

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self.base_url = ""
        self.port = 0
        self.most_in_flight: dict[str, int] = {}
        self.most_in_flight_total = 0
        self._in_flight: dict[str, int] = {}
        self._lock = threading.Lock()

    def serve(self, path: str, body: bytes | str, **options: Any) -> str:
        """Put ``body`` on ``path`` and return its URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.routes[path] = Route(body=data, **options)
        return self.url(path)

    def url(self, path: str, host: str | None = None) -> str:
        if host is None:
            return f"{self.base_url}{path}"
        return f"http://{host}:{self.port}{path}"

    def requests_for(self, path: str) -> list[Request]:
        return [request for request in self.requests if request.path == path]

    def enter(self, host: str) -> None:
        with self._lock:
            self._in_flight[host] = self._in_flight.get(host, 0) + 1
            self.most_in_flight[host] = max(self.most_in_flight.get(host, 0), self._in_flight[host])
            total = sum(self._in_flight.values())
            self.most_in_flight_total = max(self.most_in_flight_total, total)

    def leave(self, host: str) -> None:
        with self._lock:
            self._in_flight[host] -= 1


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as real feed servers offer

    def do_GET(self) -> None:
        state = self.server.state
        headers = {k.lower(): v for k, v in self.headers.items()}
        state.requests.append(Request(self.path, headers))
        host = headers.get("host", "")
        state.enter(host)
        try:
            self._answer(state)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a deadline, a size cap): that is what the test wanted
        finally:
            state.leave(host)

    def _answer(self, state: FeedServer) -> None:
        route = state.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        if route.delay:
            time.sleep(route.delay)
        validators = {}
        if route.etag:
            validators["ETag"] = route.etag
        if route.last_modified:
            validators["Last-Modified"] = route.last_modified
        if (route.etag and self.headers.get("If-None-Match") == route.etag) or (
            route.last_modified and self.headers.get("If-Modified-Since") == route.last_modified
        ):
            self.send_response(304)
            for name, value in validators.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = route.body
        if route.encoding and not route.precompressed:
            body = gzip.compress(body) if route.encoding == "gzip" else zlib.compress(body)
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        if route.encoding:
            self.send_header("Content-Encoding", route.encoding)
        for name, value in {**validators, **route.headers}.items():
            self.send_header(name, value)
        if route.send_length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.close_connection = True
        self.end_headers()
        if route.trickle:
            for position in range(len(body)):
                self.wfile.write(body[position : position + 1])
                self.wfile.flush()
                time.sleep(route.trickle)
            return
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: FeedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up mid-answer is expected here; keep the output quiet."""


@contextmanager
def running_server(
    host: str = "127.0.0.1", port: int = 0, state: FeedServer | None = None
) -> Iterator[FeedServer]:
    """A feed server on ``host`` (a loopback address), stopped when the block ends.

    Given the ``state`` of a running server (and its port), a second address serves the same
    routes and records into the same state: one site under several host names.
    """
    httpd = _Server((host, port), _Handler)
    bound_host, bound_port = httpd.server_address[:2]
    if state is None:
        state = FeedServer()
        state.base_url = f"http://{bound_host!s}:{bound_port}"
        state.port = int(bound_port)
    httpd.state = state
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="feed-server", daemon=True
    )
    thread.start()
    try:
        yield httpd.state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


class FakeResolver:
    """A DNS server under the test's control: each name answers from a list, one call at a time
    (the last answer repeats), and every question is recorded."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers
        self.questions: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.questions.append(host)
        queue = self.answers.get(host)
        if not queue:
            raise ResolutionFailed(f"cannot resolve {host}: unknown to the fake resolver")
        return queue.pop(0) if len(queue) > 1 else queue[0]


def read_data(name: str) -> bytes:
    """A hostile or odd input kept as a file under data/, named for what it is."""
    return (DATA / name).read_bytes()
