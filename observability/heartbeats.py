"""Beat and the workers check in, so the portal can say when nobody fires or runs the ticks.

Without this, a stopped beat looks like a quiet afternoon: nothing fails, nothing runs. Each
beat (ChorusScheduler.tick) and each worker (a thread started on `worker_ready`) writes its
`ProcessHeartbeat` row every CHORUS_PROCESS_HEARTBEAT_SECONDS; a clean stop deletes it, a killed
process leaves it to go stale. `platform_health()` turns the rows into the sentences the project
overview shows above the tasks (templates/observability/_overview_tasks.html) and /metrics exports
their ages.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, InterfaceError, close_old_connections, connection
from django.utils import timezone

from .models import ProcessHeartbeat

logger = logging.getLogger(__name__)

EXECUTIONS_QUEUE = "executions"


def _interval() -> float:
    return float(getattr(settings, "CHORUS_PROCESS_HEARTBEAT_SECONDS", 5.0))


def _stale() -> float:
    return float(getattr(settings, "CHORUS_PROCESS_STALE_SECONDS", 30.0))


class Heartbeat:
    """One process's row; `touch()` writes it at most every CHORUS_PROCESS_HEARTBEAT_SECONDS."""

    def __init__(self, *, name: str, kind: str, queues: str = "") -> None:
        self.name = name[:200]
        self.kind = kind
        self.queues = queues[:300]
        self.started_at = timezone.now()
        self._next = 0.0

    def touch(self, *, force: bool = False) -> bool:
        """Write the row now if it is due (or forced). True when written."""
        now = time.monotonic()
        if not force and now < self._next:
            return False
        self._next = now + _interval()
        try:
            ProcessHeartbeat.objects.update_or_create(
                name=self.name,
                defaults={
                    "kind": self.kind,
                    "queues": self.queues,
                    "started_at": self.started_at,
                    "last_seen": timezone.now(),
                },
            )
        except (DatabaseError, InterfaceError):  # the check-in must never stop the process
            logger.warning("heartbeat of %s could not be written", self.name, exc_info=True)
            close_old_connections()
            return False
        return True

    def remove(self) -> None:
        try:
            ProcessHeartbeat.objects.filter(name=self.name).delete()
        except (DatabaseError, InterfaceError):
            logger.warning("heartbeat of %s could not be removed", self.name, exc_info=True)


def beat_heartbeat() -> Heartbeat:
    return Heartbeat(
        name=f"beat@{socket.gethostname()}:{os.getpid()}", kind=ProcessHeartbeat.Kind.BEAT
    )


# --- workers: a thread per worker process, from worker_ready to worker_shutdown ----------------
_worker: dict[str, object] = {}


def _queues_of(consumer) -> list[str]:
    try:
        return sorted(q.name for q in consumer.task_consumer.queues)
    except AttributeError:
        return sorted(consumer.app.amqp.queues.consume_from or [])


def worker_started(sender=None, **kwargs) -> None:
    """celery.signals.worker_ready: start checking in for this worker."""
    if sender is None or "thread" in _worker:
        return
    beat = Heartbeat(
        name=str(sender.hostname),
        kind=ProcessHeartbeat.Kind.WORKER,
        queues=",".join(_queues_of(sender)),
    )
    stop = threading.Event()

    def loop() -> None:
        while True:
            beat.touch(force=True)
            connection.close()  # a thread of its own: give the connection back between beats
            if stop.wait(_interval()):
                return

    thread = threading.Thread(target=loop, name="chorus-heartbeat", daemon=True)
    _worker.update(thread=thread, stop=stop, beat=beat)
    thread.start()


def worker_stopping(sender=None, **kwargs) -> None:
    """celery.signals.worker_shutdown: stop checking in and say goodbye."""
    stop, beat = _worker.pop("stop", None), _worker.pop("beat", None)
    thread = _worker.pop("thread", None)
    if stop is not None:
        stop.set()
    if thread is not None:
        thread.join(timeout=5)
    if beat is not None:
        beat.remove()
        connection.close()


# --- reading -------------------------------------------------------------------------------------
@dataclass
class Process:
    """One checked-in process as the overview, the API and the CLI show it."""

    name: str
    kind: str
    queues: list[str]
    started_at: datetime
    last_seen: datetime
    fresh: bool  # checked in within CHORUS_PROCESS_STALE_SECONDS


@dataclass
class Health:
    beat_seen: datetime | None = None
    executions_worker_seen: datetime | None = None
    problems: list[str] = field(default_factory=list)
    processes: list[Process] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _ago(then: datetime, now: datetime) -> str:
    seconds = int((now - then).total_seconds())
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def platform_health(*, now: datetime | None = None) -> Health:
    """Whether a beat and a worker of the executions queue checked in recently, in words."""
    now = now or timezone.now()
    fresh_after = now - timedelta(seconds=_stale())
    processes = [
        Process(
            name=row.name,
            kind=row.kind,
            queues=[q for q in row.queues.split(",") if q],
            started_at=row.started_at,
            last_seen=row.last_seen,
            fresh=row.last_seen >= fresh_after,
        )
        for row in ProcessHeartbeat.objects.order_by("kind", "name")
    ]
    beats = [p.last_seen for p in processes if p.kind == ProcessHeartbeat.Kind.BEAT]
    workers = [
        p.last_seen
        for p in processes
        if p.kind == ProcessHeartbeat.Kind.WORKER and EXECUTIONS_QUEUE in p.queues
    ]
    health = Health(
        beat_seen=max(beats, default=None),
        executions_worker_seen=max(workers, default=None),
        processes=processes,
    )
    if health.beat_seen is None:
        health.problems.append(
            "No scheduler (beat) has checked in: scheduled runs are not firing until one runs."
        )
    elif health.beat_seen < fresh_after:
        health.problems.append(
            f"The scheduler (beat) last checked in {_ago(health.beat_seen, now)} "
            f"({health.beat_seen.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC): scheduled "
            "runs are not firing. When it is back, each tick it missed is recorded as missed "
            "or caught up, as the deployment's catch-up policy says."
        )
    if health.executions_worker_seen is None:
        health.problems.append(
            "No worker of the executions queue has checked in: runs are queued but none starts."
        )
    elif health.executions_worker_seen < fresh_after:
        seen = health.executions_worker_seen
        health.problems.append(
            f"No worker of the executions queue has checked in since {_ago(seen, now)} "
            f"({seen.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC): runs are queued but none "
            "starts, and a tick not started within its starting deadline is recorded as missed."
        )
    return health
