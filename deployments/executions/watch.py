"""A running execution's companions: its watch (start, heartbeat, cancel, config snapshot)
and its log writer, which gives a pooled database connection back between flushes.

The worker (run.py) hands `RunWatch.on_start` and `RunWatch.should_stop` to the runtime as its
callbacks; `should_stop` checks in every CHORUS_EXECUTION_HEARTBEAT_SECONDS, and the reconciler
finishes executions whose heartbeat stopped. `should_stop` is polled only while the task runs:
not while a busy engine creates the container or pulls an image, nor while the result is read,
the container removed and the run waits for the rest of its batch. So `keepalive` beats for
every run this process holds, from its claim to its end (at most its timeout and a margin
more, so a run stuck in a call that never returns is still ended by the reconciler): a live
worker's run is never taken for a lost one.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

from deployments.executions.claims import Started
from deployments.executions.snapshots import config_snapshot_save
from deployments.loglevels import read_line
from deployments.logs import MAX_LINE_CHARS, LogWriter, mask_secrets
from deployments.models import Execution

logger = logging.getLogger(__name__)

Status = Execution.Status

# What a database that is restarting or unreachable raises.
DB_ERRORS = (OperationalError, InterfaceError)
HEARTBEAT_SECONDS = float(getattr(settings, "CHORUS_EXECUTION_HEARTBEAT_SECONDS", 2))


def _pooled() -> bool:
    return bool(settings.DATABASES["default"].get("OPTIONS", {}).get("pool"))


def release_connection() -> None:
    """With a connection pool, hand this thread's connection back between database moments
    (a run may last hours; the pool is smaller than the number of runs)."""
    if _pooled() and not connection.in_atomic_block:
        connection.close()


class Keepalive:
    """Heartbeats, in one UPDATE every HEARTBEAT_SECONDS, for the runs this process holds (see
    the module docstring)."""

    # Beyond a run's own timeout, how long it is kept alive (reading the result, removing the
    # container, a slow engine).
    MARGIN = 120.0

    def __init__(self) -> None:
        self._until: dict[int, float] = {}  # execution id -> monotonic time to stop at
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, execution_id: int, timeout: float) -> None:
        with self._lock:
            self._until[execution_id] = time.monotonic() + timeout + self.MARGIN
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._beat, name="chorus-keepalive", daemon=True
                )
                self._thread.start()

    def release(self, execution_id: int) -> None:
        with self._lock:
            self._until.pop(execution_id, None)

    def held(self) -> list[int]:
        now = time.monotonic()
        with self._lock:
            return sorted(pk for pk, until in self._until.items() if until > now)

    def _beat(self) -> None:
        db = None
        while True:
            time.sleep(HEARTBEAT_SECONDS)
            ids = self.held()
            if not ids:
                if db is not None:  # idle: no connection kept open for nothing
                    db.close()
                    db = None
                continue
            try:
                db = db or _own_connection()
                table = connection.ops.quote_name(Execution._meta.db_table)
                with db.cursor() as cursor:
                    cursor.execute(
                        f"UPDATE {table} SET heartbeat_at = %s "  # noqa: S608 - names, not input
                        f"WHERE status = %s AND id IN ({', '.join(['%s'] * len(ids))})",
                        [timezone.now(), Status.RUNNING, *ids],
                    )
            except Exception:  # noqa: BLE001 - a database restart: the next beat connects again
                logger.exception("keepalive: heartbeat of %d run(s) failed", len(ids))
                if db is not None:
                    db.close()
                db = None


def _own_connection():
    """A connection of the keepalive's own, outside any pool: runs that hold every pooled
    connection (or wait for one after a database restart) must not starve their heartbeat."""
    from django.db import connections

    settings_dict = dict(connections["default"].settings_dict)
    settings_dict["OPTIONS"] = {
        k: v for k, v in (settings_dict.get("OPTIONS") or {}).items() if k != "pool"
    }
    settings_dict["CONN_MAX_AGE"] = None
    return connections["default"].__class__(settings_dict, alias="chorus-keepalive")


keepalive = Keepalive()


class RunWatch:
    """The runtime's callbacks for one run: `on_start` notes the start (written with the next
    heartbeat), `should_stop` (the runtime's `cancel`) checks in every few seconds."""

    def __init__(self, execution: Execution, started: Started | None = None, log=None) -> None:
        self.execution = execution
        self.started = started
        self.log = log
        self.next_beat = time.monotonic() + HEARTBEAT_SECONDS
        self.stop = False
        self.start_unsaved = False
        self.snapshot_unsaved = started is not None
        # Started ahead and held until its tick (hold.py): the start is when the task began
        # (`on_begin`, reported by the runtime's hold wrapper), not when its container started.
        self.held = False
        self.began: datetime | None = None
        self.container_started: float | None = None

    def save_snapshot(self) -> None:
        """Keep the configuration this run started with, for a re-run (snapshots.py): with the
        first heartbeat (a long run is re-runnable while it runs, and after its worker died),
        or at the end of a short one. Never in the batch leader's start loop."""
        if not self.snapshot_unsaved:
            return
        self.snapshot_unsaved = False
        try:
            config_snapshot_save(
                deployment=self.execution.deployment,
                revision=self.execution.config_revision,
                env=self.started.config,
                secrets=self.started.secrets,
            )
        except Exception:  # noqa: BLE001 - the run's own outcome matters more
            logger.exception("execution %s: could not store its config snapshot", self.execution.pk)

    def on_start(self, container_id: str) -> None:
        e = self.execution
        e.container_id = (container_id or "")[:80]
        self.container_started = time.time()
        if not self.held:
            self._began(timezone.now())
        else:
            self._note_late_start()
        self.start_unsaved = True
        if self.started is not None:
            self.started.mark_started()
            if self.held and self.started.held is not None:
                self.started.held.started_one()

    def _note_late_start(self) -> None:
        """A held run whose container the engine started only after the tick (a busy engine)
        is not held at all: its log says so, next to the line that announced the hold."""
        hold_until = self.started.hold_until if self.started is not None else None
        if self.log is None or hold_until is None or self.container_started <= hold_until:
            return
        self.log(
            f"[chorus] the engine started the container {self.container_started - hold_until:.2f}"
            " s after the tick: the task begins at once, not held",
            "chorus",
        )

    def on_begin(self, unix_time: float) -> None:
        """The held task began (the runtime read it from the hold wrapper)."""
        self._began(datetime.fromtimestamp(unix_time, UTC))
        self.start_unsaved = True

    def _began(self, when: datetime) -> None:
        e = self.execution
        self.began = e.started_at = when
        e.fire_lag_seconds = (when - (e.due_at or e.scheduled_for)).total_seconds()

    def start_fields(self) -> dict:
        e = self.execution
        if not self.start_unsaved:
            return {}
        return {
            "container_id": e.container_id,
            "started_at": e.started_at,
            "fire_lag_seconds": e.fire_lag_seconds,
        }

    def should_stop(self) -> bool:
        """The runtime's `cancel` callback, polled while the task runs: checks in every
        HEARTBEAT_SECONDS and says stop once the run was ended elsewhere or a cancel was asked."""
        if self.stop:
            return True
        if time.monotonic() < self.next_beat:
            return False
        self.next_beat = time.monotonic() + HEARTBEAT_SECONDS
        try:
            alive = self.check_in()
        except Exception:  # noqa: BLE001 - a database hiccup must not kill the task
            logger.exception("execution %s: heartbeat failed", self.execution.pk)
            lost_connection()
            return False
        # Not running any more (the reconciler ended it) or asked to stop: stop the task.
        self.stop = not alive
        return self.stop

    def check_in(self) -> bool:
        """The periodic bookkeeping of a running task; True while it may go on."""
        alive = self.write_heartbeat()
        self.save_snapshot()
        # A quiet task's last lines would wait in the buffer: show them now.
        if self.log is not None and self.log.has_pending():
            self.log.flush()
        release_connection()
        return alive

    def write_heartbeat(self) -> bool:
        """Heartbeat (and the start, if not written yet) on the row, if it is still running
        and nobody asked to cancel it; says whether it was."""
        written = Execution.objects.filter(
            pk=self.execution.pk, status=Status.RUNNING, cancel_requested=False
        ).update(heartbeat_at=timezone.now(), **self.start_fields())
        self.start_unsaved = False
        return written == 1


def lost_connection() -> None:
    """After a database error outside a transaction: close this thread's connection, so the
    next query connects again (a restarted server cut it) instead of failing on it forever."""
    if not connection.in_atomic_block:
        connection.close()


class RunLog(LogWriter):
    """LogWriter that gives a pooled connection back after each flush during a long run, and
    rides out a database restart: lines it could not store wait for the next flush.

    A write cut off by the restart may have committed all the same (the server went away
    before it answered): after such an error the next flush first leaves out the pending
    lines already stored, so no line is stored twice."""

    unsure = False  # a flush failed: some pending lines may be stored already

    def flush(self, *, update_owner: bool = True) -> None:
        if connection.in_atomic_block:  # the final flush: its transaction decides
            self._forget_stored()
            super().flush(update_owner=update_owner)
            return
        try:
            self._forget_stored()
            super().flush(update_owner=update_owner)
        except DB_ERRORS:
            self.unsure = True
            logger.warning(
                "execution %s: the database did not take %d log line(s); trying again later",
                self.owner.pk,
                len(self._pending),
            )
            lost_connection()
            return
        release_connection()

    def _forget_stored(self) -> None:
        if not (self.unsure and self._pending):
            return
        stored = set(
            self.line_model.objects.filter(
                **{self.fk_name: self.owner}, seq__in=[p[0] for p in self._pending]
            ).values_list("seq", flat=True)
        )
        # `unsure` stays: a later write may be cut off too, and a rolled-back final flush
        # (watch the run's end, run.py) puts these lines back.
        self._pending = [p for p in self._pending if p[0] not in stored]

    def has_pending(self) -> bool:
        return bool(self._pending)

    def line_fields(self, stream: str, text: str) -> dict:
        level, shown = read_line(stream, text)
        if shown != text:
            # A JSON line's message is decoded text: a secret spelled with escapes in the line
            # (\u0068unter2) is plain in it, so it is masked again.
            shown = mask_secrets(shown, self.secrets)[:MAX_LINE_CHARS]
        return {"level": level, "text": shown}
