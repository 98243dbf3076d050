"""Small real servers on loopback addresses for the git fetch tests.

- `Recorder`: a TCP listener that only records who connected (then hangs up): the place git
  must NOT reach.
- `DumbHttp`: Python's http.server serving a directory of bare repositories (git's "dumb"
  HTTP protocol, after `git update-server-info`), or answering every request with a redirect.
- `GitDaemon`: `git daemon` exporting a directory of bare repositories.

Every server binds an exact address (127.0.0.1, 127.0.0.2, ...): on Linux the whole of
127.0.0.0/8 is the loopback interface, so two servers can share a port on two addresses.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def free_port(*hosts: str) -> int:
    """A port that is free on every one of `hosts` right now."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind((hosts[0], 0))
            port = s.getsockname()[1]
        try:
            for host in hosts:
                with socket.socket() as s:
                    s.bind((host, port))
        except OSError:
            continue
        return port
    raise RuntimeError(f"no port free on all of {hosts}")


class Recorder:
    """Accepts TCP connections on host:port, records the peer, closes at once."""

    def __init__(self, host: str, port: int) -> None:
        self.contacts: list[tuple[str, int]] = []
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.contacts.append(peer[:2])
            conn.close()

    def __enter__(self) -> Recorder:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()


class DumbHttp:
    """http.server on host:port serving `root`; with `redirect_to`, every GET answers 302."""

    def __init__(self, host: str, port: int, root: Path, *, redirect_to: str = "") -> None:
        self.paths: list[str] = []
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server.paths.append(self.path)
                if redirect_to:
                    self.send_response(302)
                    self.send_header("Location", redirect_to + self.path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                super().do_GET()

            def log_message(self, *args) -> None:
                pass

        self._httpd = ThreadingHTTPServer((host, port), partial(Handler, directory=str(root)))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> DumbHttp:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class GitDaemon:
    """`git daemon` on host:port exporting every repository under `root`."""

    def __init__(self, host: str, port: int, root: Path) -> None:
        self.host, self.port, self.root = host, port, root
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> GitDaemon:
        self._proc = subprocess.Popen(
            [
                "git",
                "daemon",
                "--reuseaddr",
                "--export-all",
                f"--base-path={self.root}",
                f"--listen={self.host}",
                f"--port={self.port}",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                return self
            except OSError:
                if self._proc.poll() is not None:
                    raise RuntimeError("git daemon exited at start") from None
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("git daemon did not start listening within 10 s")

    def __exit__(self, *exc) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=5)
            self._proc = None
