"""A local HTTP receiver standing in for Slack / any webhook endpoint (observability tests)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self, host: str = "127.0.0.1", *, body: bytes = b""):
        self.messages: list[dict] = []
        self.status = 200
        self.body = body  # what it answers (an internal page would answer something private)
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.messages.append(
                        {
                            "path": self.path,
                            "content_type": self.headers.get("Content-Type"),
                            "json": json.loads(body or b"null"),
                        }
                    )
                    status = receiver.status
                self.send_response(status)
                self.end_headers()
                self.wfile.write(receiver.body or (b"ok" if status < 300 else b"nope"))

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}/hooks/T000/B000/secret"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def texts(self) -> list[str]:
        with self._lock:
            return [m["json"]["text"] for m in self.messages]

    def wait_for(self, n: int, timeout: float = 30) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.texts) >= n:
                return self.texts
            time.sleep(0.1)
        raise AssertionError(f"expected {n} webhook messages, got {self.texts}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()
