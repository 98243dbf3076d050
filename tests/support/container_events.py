"""Counting the containers an engine really created, per execution, from its event stream.

A run's container is removed when the run ends, so counting what is left proves nothing: the
engine's `create` events, filtered by the installation label every Chorus task carries, are
what happened. A second container for one execution would show up here even though the
database has one row.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from deployments.installation import LABEL


def engine_client(base_url: str | None = None):
    """A Docker client of the engine at `base_url` (default: Chorus's, DOCKER_HOST) with
    patient timeouts: the test's own view of the engine must not give up on a busy machine."""
    import docker
    from django.conf import settings

    url = base_url or settings.CHORUS_DOCKER_HOST or "unix:///var/run/docker.sock"
    return docker.DockerClient(base_url=url, timeout=180)


class ContainerCounter:
    """Counts `create` events of containers labelled `chorus.installation=<installation>` on
    the engine at `base_url`, by their `chorus.execution` label, from start() to stop().

    The stream ends when the engine stops; `resume()` opens it again (with `since` the last
    event seen, so nothing the engine kept is missed or counted twice)."""

    def __init__(self, base_url: str | None, installation: str) -> None:
        self.base_url = base_url
        self.installation = installation
        self.created: Counter[int] = Counter()
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._since = int(time.time()) - 1
        self._client = None
        self._stream = None
        self._thread: threading.Thread | None = None

    def _open(self):

        self._client = engine_client(self.base_url)
        self._stream = self._client.events(
            since=self._since,
            filters={"type": "container", "event": "create", "label": [f"{LABEL}={self.installation}"]},
            decode=True,
        )  # fmt: skip
        self._thread = threading.Thread(target=self._read, args=(self._stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        try:
            for event in stream:
                attrs = (event.get("Actor") or {}).get("Attributes") or {}
                execution = str(attrs.get("chorus.execution", ""))
                cid = event.get("id") or (event.get("Actor") or {}).get("ID", "")
                with self._lock:
                    self._since = max(self._since, int(event.get("time", self._since)))
                    if execution.isdigit() and cid not in self._seen:
                        self._seen.add(cid)
                        self.created[int(execution)] += 1
        except Exception:  # noqa: BLE001 - the engine stopped or the stream was closed
            pass

    def start(self) -> ContainerCounter:
        self._open()
        return self

    def resume(self) -> None:
        self._close()
        self._open()

    def _close(self) -> None:
        if self._stream is not None:
            try:
                self._stream.close()
            except Exception:  # noqa: BLE001 - already broken
                pass
        if self._client is not None:
            self._client.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def stop(self, settle: float = 1.0) -> Counter[int]:
        """Stop counting: close the live stream, then read the engine's events since the last
        one it gave, up to now, in full (a reader slowed by a busy machine misses none)."""
        time.sleep(settle)
        self._close()
        client = engine_client(self.base_url)
        try:
            with self._lock:
                since = self._since - 2
            self._read(
                client.events(
                    since=since, until=int(time.time()) + 1, decode=True,
                    filters={"type": "container", "event": "create",
                             "label": [f"{LABEL}={self.installation}"]},
                )
            )  # fmt: skip
        finally:
            client.close()
        with self._lock:
            return Counter(self.created)
