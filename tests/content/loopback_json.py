"""A real HTTP server on loopback that answers JSON per path, for tests of social servers.

It records every request, so a test can assert how often a server was asked (caching).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


class JsonServer:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self._server = server
        # path -> (status, JSON document or raw bytes)
        self.routes: dict[str, tuple[int, Any]] = {}
        self.requests: list[str] = []

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"


@contextmanager
def json_server() -> Iterator[JsonServer]:
    holder: dict[str, JsonServer] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server = holder["server"]
            server.requests.append(self.path)
            status, document = server.routes.get(urlsplit(self.path).path, (404, {"error": "x"}))
            body = document if isinstance(document, bytes) else json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder["server"] = JsonServer(httpd)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["server"]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
