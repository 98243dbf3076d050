"""The reconciler: makes the database tell the truth after a crash (task `chorus.reconcile`).

Runs every few seconds (beat, queue "chorus") and is safe to run anywhere, any number of times:
every change it makes is a conditional UPDATE.

1. Running executions whose worker stopped sending heartbeats (killed, machine lost) are
   finished from their container, found by its labels: the container's exit code when it had
   finished (succeeded / failed), otherwise the container is stopped and the execution fails
   with reason "worker lost". Either way the execution adopts what the engine kept: the lines
   the task printed after the last stored one (`_adopted_log`), and the container's own start
   and end times (so the duration is the task's, not the time until the reconciler came).
   Retries apply as for any failure.
2. Containers labelled `chorus.managed=true` and with this installation's
   `chorus.installation` label (deployments/installation.py) whose execution is not running
   (finished, deleted, never claimed) are orphans: stopped and removed. Every find here asks
   for this installation's label: tasks of another installation sharing the engine, whose
   executions are not in this database, are never touched.
3. Pending executions: a tick no worker started within its starting deadline is recorded as
   missed; retries due now that were not put on the queue (long backoff) are dispatched;
   ticks still pending STALE_SECONDS after they were due are sent once more (their message
   was lost with a broker connection, or a beat stopped between claim and publish), and
   manual runs whose message was lost are dispatched again (the claim makes a duplicate
   message harmless). A publish that fails leaves the rows without a task id, so the next
   pass sends them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from deployments.installation import installation_labels
from deployments.logs import LogWriter
from deployments.models import Environment, Execution, ExecutionLogLine
from deployments.runtimes import get_runtime
from deployments.runtimes.base import Runtime, RuntimeUnavailable

logger = logging.getLogger(__name__)

Status = Execution.Status
Trigger = Execution.Trigger

# A running execution whose heartbeat is older than this has lost its worker (the worker
# beats every CHORUS_EXECUTION_HEARTBEAT_SECONDS, 2 s by default).
STALE_SECONDS = float(getattr(settings, "CHORUS_EXECUTION_STALE_SECONDS", 20))
# Extra time past a deadline before the reconciler calls a pending tick missed (the worker
# itself records most of them; this catches those no worker ever received).
PENDING_GRACE = timedelta(seconds=30)
# A manual run still pending this long after it was queued lost its message: send it again.
REDISPATCH_AFTER = timedelta(minutes=2)
# Retries kept off the broker (long backoff) are dispatched this far ahead of their time.
DISPATCH_AHEAD = timedelta(seconds=30)
# The task id of a tick's message sent again by the reconciler starts with this (once only).
RESENT = "resent-"


@dataclass
class Report:
    worker_lost: list[int] = field(default_factory=list)
    orphans_removed: list[str] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    dispatched: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any((self.worker_lost, self.orphans_removed, self.missed, self.dispatched))


def worker_gone(execution: Execution, now=None) -> bool:
    now = now or timezone.now()
    beat = execution.heartbeat_at or execution.started_at
    return beat is None or (now - beat).total_seconds() > STALE_SECONDS


def _runtime(environment: Environment) -> Runtime | None:
    try:
        return get_runtime(environment)
    except RuntimeUnavailable:
        return None


def _find(runtime: Runtime | None, labels: dict) -> list:
    """This installation's tasks carrying `labels` (never another installation's)."""
    if runtime is None:
        return []
    try:
        return runtime.find({**labels, **installation_labels()})
    except Exception:  # noqa: BLE001 - engine down: nothing found, finish without it
        logger.exception("reconcile: could not list tasks on %r", runtime)
        return []


def _stop(runtime: Runtime | None, container_id: str) -> None:
    if runtime is None:
        return
    try:
        runtime.stop(container_id)
    except Exception:  # noqa: BLE001 - best effort; the next pass tries again
        logger.exception("reconcile: could not stop %s", container_id)


def _adopted_log(runtime: Runtime | None, execution: Execution, task) -> LogWriter:
    """The execution's log, holding (not yet stored) the lines its task printed after the last
    line a worker stored: the engine's output of each stream, less as many lines as are
    stored for that stream, cut and masked as a worker cuts and masks them."""
    from deployments.deploy.services.config import deployment_runtime_env

    _, secrets = deployment_runtime_env(deployment=execution.deployment)
    log = LogWriter(
        owner=execution, line_model=ExecutionLogLine, fk_name="execution", secrets=secrets
    )
    # Stored only inside execution_finish's transaction, with the final status.
    log.hold = True
    if runtime is None or execution.log_truncated:
        return log
    try:
        kept = runtime.output(task.container_id)
    except Exception:  # noqa: BLE001 - engine gone: finish without its output
        logger.exception("reconcile: could not read the output of %s", task.container_id)
        return log
    stored = dict(
        ExecutionLogLine.objects.filter(execution=execution, stream__in=("stdout", "stderr"))
        .values_list("stream")
        .annotate(n=Count("pk"))
    )
    seen = {"stdout": 0, "stderr": 0}
    missing = []
    for line in kept:
        for piece in line.text.splitlines() or [""]:
            seen[line.stream] = seen.get(line.stream, 0) + 1
            if seen[line.stream] > stored.get(line.stream, 0):
                missing.append((piece, line.stream))
    if missing:
        log(
            f"[chorus] the worker was lost; {len(missing)} more line(s) from the engine's log "
            f"of container {task.container_id[:12]}:",
            "chorus",
        )
        for text, stream in missing:
            log(text, stream)
    return log


def reconcile_execution(execution: Execution, *, cancelled: bool = False) -> bool:
    """Finish one running execution whose worker is gone, from its container's state."""
    from deployments.executions.finish import execution_finish

    execution = (
        Execution.objects.select_related("deployment__environment").filter(pk=execution.pk).first()
    )
    if execution is None or execution.status != Status.RUNNING:
        return False
    runtime = _runtime(execution.deployment.environment)
    tasks = _find(runtime, {"chorus.execution": str(execution.pk)})
    exited = [t for t in tasks if not t.running and t.exit_code is not None]
    exit_code = None
    if cancelled or execution.cancel_requested:
        status = Status.CANCELLED
        reason = (execution.reason or "cancelled") + " (its worker was gone)"
    elif exited and not any(t.running for t in tasks):
        exit_code = int(exited[0].exit_code)
        status = Status.SUCCEEDED if exit_code == 0 else Status.FAILED
        reason = "" if exit_code == 0 else f"exit code {exit_code} (its worker was lost meanwhile)"
    elif tasks:
        status, reason = Status.FAILED, "worker lost (the container was stopped)"
    else:
        status, reason = Status.FAILED, "worker lost"
    # What the engine kept of the task, read before the container is removed: the lines
    # printed after the last stored one, and when it really started and ended.
    task = (exited or tasks or [None])[0]
    log = _adopted_log(runtime, execution, task) if task is not None else None
    extra: dict = {}
    if task is not None:
        if task.started_at:
            extra["started_at"] = task.started_at
        if not execution.container_id:
            # Its worker died (or stalled) before it could record which container it started.
            extra["container_id"] = task.container_id[:80]
    finished_at = task.finished_at if task is not None and not task.running else None
    for t in tasks:
        _stop(runtime, t.container_id)
    beat = execution.heartbeat_at
    done = execution_finish(
        execution=execution,
        status=status,
        reason=reason,
        exit_code=exit_code,
        log=log,
        expect=(Status.RUNNING,),
        # Only if the heartbeat did not move meanwhile (a slow but live worker wins).
        where=Q(heartbeat_at=beat) if beat else Q(heartbeat_at__isnull=True),
        extra=extra,
        finished_at=finished_at,
    )
    if done:
        logger.warning("reconcile: execution %s ended as %s (%s)", execution.pk, status, reason)
    return done


def _reconcile_running(report: Report, now) -> None:
    cutoff = now - timedelta(seconds=STALE_SECONDS)
    stale = Execution.objects.filter(status=Status.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )
    for execution in stale.only("pk")[:200]:
        if reconcile_execution(execution):
            report.worker_lost.append(execution.pk)


def _remove_orphans(report: Report) -> None:
    seen: set[tuple[str, str]] = set()
    for environment in Environment.objects.all():
        runtime = _runtime(environment)
        if runtime is None:
            continue
        key = (runtime.kind, repr(runtime))
        if key in seen:
            continue
        seen.add(key)
        tasks = _find(runtime, {"chorus.managed": "true"})
        ids = {
            int(t.labels["chorus.execution"])
            for t in tasks
            if str(t.labels.get("chorus.execution", "")).isdigit()
        }
        running = set(
            Execution.objects.filter(pk__in=ids, status=Status.RUNNING).values_list("pk", flat=True)
        )
        for t in tasks:
            eid = str(t.labels.get("chorus.execution", ""))
            if eid.isdigit() and int(eid) not in running:
                _stop(runtime, t.container_id)
                report.orphans_removed.append(t.container_id)


def _sweep_pending(report: Report, now) -> None:
    from deployments.executions.claims import end_pending
    from deployments.executions.dispatch import new_task_id, publish_or_release

    # Ticks no worker started in time (their messages lost, or workers down).
    late = (
        Execution.objects.filter(
            status=Status.PENDING, trigger__in=[Trigger.SCHEDULE, Trigger.CATCHUP]
        )
        .filter(due_at__lt=now - PENDING_GRACE)
        .select_related("deployment")
    )
    for e in late[:1000]:
        d = e.deployment
        if e.trigger == Trigger.SCHEDULE:
            limit = timedelta(seconds=d.starting_deadline_seconds)
            if now - (e.due_at or e.scheduled_for) <= limit + PENDING_GRACE:
                continue
            reason = (
                f"starting deadline passed: no worker picked it up within "
                f"{d.starting_deadline_seconds} s"
            )
        else:
            if now - e.scheduled_for <= timedelta(seconds=d.catchup_window_seconds) + PENDING_GRACE:
                continue
            reason = "scheduler down: no worker ran the catch-up within the catch-up window"
        if end_pending(e, status=Status.MISSED, reason=reason):
            report.missed.append(e.pk)

    to_publish = []
    # Retries waiting off the broker, now (nearly) due.
    for e in Execution.objects.filter(
        status=Status.PENDING, celery_task_id="", due_at__lte=now + DISPATCH_AHEAD
    )[:1000]:
        task_id = new_task_id()
        if Execution.objects.filter(pk=e.pk, status=Status.PENDING, celery_task_id="").update(
            celery_task_id=task_id, queued_at=now
        ):
            to_publish.append((e.pk, task_id, e.due_at))
    # Ticks still pending well after they were due: their message was lost (a worker held it
    # when its broker connection dropped, or a beat stopped between claim and publish). Sent
    # once more, with a task id that says so; the claim keeps the tick to one start, so a
    # message that was only slow does no harm.
    overdue = (
        Execution.objects.filter(
            status=Status.PENDING,
            trigger__in=[Trigger.SCHEDULE, Trigger.CATCHUP],
            due_at__lt=now - timedelta(seconds=STALE_SECONDS),
        )
        .exclude(celery_task_id="")
        .exclude(celery_task_id__startswith=RESENT)
        .exclude(pk__in=[i[0] for i in to_publish])  # just given a task id above
    )
    for e in overdue.only("pk", "celery_task_id")[:1000]:
        task_id = RESENT + new_task_id()
        if Execution.objects.filter(
            pk=e.pk, status=Status.PENDING, celery_task_id=e.celery_task_id
        ).update(celery_task_id=task_id, queued_at=now):
            to_publish.append((e.pk, task_id, None))
    # Manual runs, re-runs and retries whose message seems lost.
    stuck = Execution.objects.filter(
        status=Status.PENDING,
        trigger__in=[Trigger.MANUAL, Trigger.RERUN, Trigger.RETRY],
        queued_at__lt=now - REDISPATCH_AFTER,
        due_at__lt=now - REDISPATCH_AFTER,
    ).exclude(celery_task_id="")
    for e in stuck[:1000]:
        if Execution.objects.filter(pk=e.pk, status=Status.PENDING, queued_at=e.queued_at).update(
            queued_at=now
        ):
            to_publish.append((e.pk, e.celery_task_id, None))
    if to_publish and publish_or_release(to_publish):
        report.dispatched.extend(i[0] for i in to_publish)


def reconcile(*, now=None, containers: bool = True) -> Report:
    """One pass of the reconciler (see the module docstring)."""
    now = now or timezone.now()
    report = Report()
    _reconcile_running(report, now)
    if containers:
        _remove_orphans(report)
    _sweep_pending(report, now)
    if report:
        logger.info(
            "reconcile: %d worker-lost, %d orphan(s) removed, %d missed, %d dispatched",
            len(report.worker_lost),
            len(report.orphans_removed),
            len(report.missed),
            len(report.dispatched),
        )
    return report


__all__ = ["Report", "reconcile", "reconcile_execution", "worker_gone"]
