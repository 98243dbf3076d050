"""What the Docker engine really did: every start and end of this installation's task
containers, counted per execution from the engine's event stream.

Containers are removed once a run is recorded, so listing them afterwards proves nothing; the
event stream sees each `start` as it happens, even for a container gone a second later.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tests.integration.executions.live import docker_client


@dataclass
class Span:
    container_id: str
    execution_id: int
    deployment_id: int
    started: datetime
    ended: datetime | None = None


@dataclass
class Starts:
    """A plain copy of what the stream saw (what the tests assert on)."""

    spans: list[Span] = field(default_factory=list)

    def per_execution(self) -> dict[int, int]:
        counts: dict[int, int] = defaultdict(int)
        for span in self.spans:
            counts[span.execution_id] += 1
        return dict(counts)

    def of(self, execution_id: int) -> list[Span]:
        return [s for s in self.spans if s.execution_id == execution_id]


class ContainerEvents:
    """Follows the engine's `start` and `die` events of containers with this installation's
    label (another installation or a neighbour's test run on the same engine is not counted)."""

    def __init__(self, installation: str) -> None:
        self._client = docker_client()
        self._stream = self._client.api.events(
            decode=True,
            filters={
                "type": "container",
                "event": ["start", "die"],
                "label": [f"chorus.installation={installation}"],
            },
        )
        self._spans: list[Span] = []
        self._open: dict[str, Span] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._follow, name="docker-events", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        try:
            for event in self._stream:
                self._record(event)
        except Exception:  # noqa: BLE001 - the stream is closed by stop()
            return

    def _record(self, event: dict) -> None:
        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        execution = str(attributes.get("chorus.execution", ""))
        if not execution.isdigit():
            return
        when = datetime.fromtimestamp(int(event.get("timeNano", 0)) / 1e9, tz=UTC)
        cid = str((event.get("Actor") or {}).get("ID") or event.get("id"))
        with self._lock:
            if event.get("Action") == "start":
                # Every start counts, a second start of the same container too.
                span = Span(
                    container_id=cid,
                    execution_id=int(execution),
                    deployment_id=int(attributes.get("chorus.deployment") or 0),
                    started=when,
                )
                self._spans.append(span)
                self._open[cid] = span
            elif event.get("Action") == "die" and cid in self._open:
                self._open.pop(cid).ended = when

    def snapshot(self) -> Starts:
        with self._lock:
            return Starts(spans=[Span(**vars(s)) for s in self._spans])

    def stop(self) -> Starts:
        self._stream.close()
        self._thread.join(timeout=5)
        self._client.close()
        return self.snapshot()
