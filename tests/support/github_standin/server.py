"""The HTTP side: GitHub's headers and error bodies, and smart HTTP git via `git http-backend`."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import urllib.parse
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from .repos import ApiError, Recorded

if TYPE_CHECKING:
    from . import GitHubStandin

DOCS = "https://docs.github.com/rest"


class StandinHandler(BaseHTTPRequestHandler):
    standin: GitHubStandin
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - silence the default stderr log
        return

    def _git_http(self, method: str, parsed) -> None:
        """Smart HTTP git through `git http-backend` (CGI), behind GitHub-style Basic auth."""
        standin = self.standin
        auth = self.headers.get("Authorization", "")
        password = ""
        if auth.startswith("Basic "):
            try:
                password = base64.b64decode(auth[6:]).decode().split(":", 1)[1]
            except (ValueError, IndexError):
                password = ""
        with standin._lock:
            standin.requests.append(
                Recorded(method, parsed.path, {}, None, password == standin.token)
            )
        if password != standin.token:
            body = b"Invalid username or token.\n"
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="GitHub"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        env = {
            **os.environ,
            "GIT_PROJECT_ROOT": str(standin.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": parsed.path[len("/git") :],
            "QUERY_STRING": parsed.query,
            "REQUEST_METHOD": method,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(data)),
            "REMOTE_USER": "x-access-token",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
        }
        proc = subprocess.run(
            ["git", "http-backend"], input=data, env=env, capture_output=True, timeout=60
        )
        head, _, body = proc.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode(errors="replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _serve(self, method: str) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        if parsed.path.startswith("/git/"):
            return self._git_http(method, parsed)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        standin = self.standin
        auth = self.headers.get("Authorization", "")
        authorized = auth in (f"token {standin.token}", f"Bearer {standin.token}")
        try:
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise ApiError(400, "Problems parsing JSON") from None
            with standin._lock:
                standin.requests.append(Recorded(method, parsed.path, query, body, authorized))
            if not authorized:
                raise ApiError(401, "Bad credentials")
            with standin._lock:
                status, data, headers = standin.handle(method, parsed.path, query, body)
        except Exception as exc:  # noqa: BLE001 - every failure answers as GitHub would
            if not isinstance(exc, ApiError):
                exc = ApiError(500, f"Server Error: {exc}")
            status, headers = exc.status, {}
            data = {"message": exc.message, "documentation_url": DOCS, "status": str(exc.status)}
            if exc.errors:
                data["errors"] = exc.errors
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        self.send_header("X-RateLimit-Limit", "5000")
        self.send_header("X-RateLimit-Remaining", "4999")
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_PUT(self):
        self._serve("PUT")

    def do_PATCH(self):
        self._serve("PATCH")

    def do_DELETE(self):
        self._serve("DELETE")
