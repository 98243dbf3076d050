"""Fixtures for the sample tests.

These tests need no Django: they run each sample as its own process against real local
HTTP servers, SQLite files and the local PostgreSQL server.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ._support import LocalServer


@pytest.fixture
def http_server() -> Iterator[Callable[[Callable[[BaseHTTPRequestHandler], None]], LocalServer]]:
    """Start a real HTTP server on 127.0.0.1 whose requests are answered by `respond`.

    Every request is recorded (method, path, headers, body) so tests can check what the
    sample sent.
    """
    servers: list[ThreadingHTTPServer] = []

    def start(respond: Callable[[BaseHTTPRequestHandler], None]) -> LocalServer:
        requests: list[dict[str, object]] = []

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.body = self.rfile.read(length) if length else b""
                requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.body,
                    }
                )
                respond(self)

            do_GET = do_POST = _handle

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return LocalServer(url=f"http://127.0.0.1:{server.server_address[1]}", requests=requests)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
