"""A TCP server that counts who reached it: the target of "can a task reach the host?" tests."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def counting_server(host: str) -> Iterator[tuple[int, list]]:
    """Listen on (host, a free port); yield the port and the list of accepted connections.

    Each connection gets an HTTP 204 and is closed. On exit the listening socket is shut down
    before it is closed, which wakes the thread blocked in accept(): a bare close() leaves that
    thread waiting, and the server a later test opens on the same descriptor number loses its
    connections to it.
    """
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, 0))
    server.listen()
    accepted: list = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            accepted.append(conn)
            with contextlib.suppress(OSError):
                conn.sendall(b"HTTP/1.0 204 No Content\r\n\r\n")
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], accepted
    finally:
        with contextlib.suppress(OSError):
            server.shutdown(socket.SHUT_RDWR)
        server.close()
        thread.join(timeout=5)
