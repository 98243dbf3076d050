"""The worker side: claim a pending execution, run it through the runtime, finish it honestly.

Claim: one conditional UPDATE (`status = pending → running`) decides who runs an execution, so a
redelivered or duplicated message never runs it twice. Before that, in the same transaction and
under a row lock on the deployment when the concurrency policy needs one, the policies decide
whether it runs at all: suspended → skipped, too late → missed, Forbid with a run in progress →
skipped, Replace → the running one is asked to stop.

While it runs the worker writes a heartbeat every few seconds (the same query reads a cancel
request); the reconciler (deployments/reconcile.py) finishes executions whose heartbeat stopped.
Every way a run ends leaves a final status, a reason and a last log line — never "running".
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from ...logs import LogWriter
from ...models import ConcurrencyPolicy, Deployment, Execution, ExecutionLogLine
from ...runtimes import Limits, RunResult, get_runtime
from ...schedules import parse_schedule
from .dispatch import dispatch_on_commit, finished_on_commit, insert_claiming, new_task_id

logger = logging.getLogger(__name__)

S = Execution.Status
T = Execution.Trigger

# Statuses of executions that really started (CHORUS_EXECUTION_COUNT counts them).
RAN = (S.RUNNING, S.SUCCEEDED, S.FAILED, S.TIMED_OUT, S.CANCELLED)
# Triggers bound to a tick: a suspended deployment skips them; only they retry automatically.
SCHEDULED = (T.SCHEDULE, T.CATCHUP, T.RETRY)
# Triggers whose start is bounded by the starting deadline (catch-ups by the catch-up window).
DEADLINED = (T.SCHEDULE,)

HEARTBEAT_SECONDS = float(getattr(settings, "CHORUS_EXECUTION_HEARTBEAT_SECONDS", 2))
# A message that arrives this much before its due time waits in the task; later ones go back
# to the broker with an ETA.
EARLY_WAIT_MAX = 5.0
# Retries further away than this are not published with an ETA (Redis would redeliver an
# unacknowledged message after its visibility timeout); the reconciler publishes them when due.
ETA_MAX = timedelta(hours=1)


class Outcome:
    RAN = "ran"
    SKIPPED = "skipped"
    MISSED = "missed"
    NOT_PENDING = "not pending"
    WAIT = "wait"  # try again in a moment (a catch-up waiting for the running one)


@lru_cache(maxsize=4096)
def periodicity(expr: str) -> str:
    try:
        return parse_schedule(expr).canonical
    except Exception:  # noqa: BLE001 - an unparsable schedule still runs manual executions
        return expr


def _load(execution_id: int) -> Execution | None:
    return (
        Execution.objects.select_related(
            "deployment__environment",
            "deployment__component__project",
            "deployment__build",
            "build",
        )
        .filter(pk=execution_id)
        .first()
    )


# --- ending without running -------------------------------------------------------------------
def _end_pending(execution: Execution, *, status: str, reason: str) -> bool:
    """pending → skipped/missed/cancelled, if it is still pending. True when this call did it."""
    now = timezone.now()
    with transaction.atomic():
        done = (
            Execution.objects.filter(pk=execution.pk, status=S.PENDING).update(
                status=status, reason=reason[:300], finished_at=now
            )
            == 1
        )
        if done:
            finished_on_commit([execution.pk])
    if done:
        execution.status, execution.reason, execution.finished_at = status, reason[:300], now
    return done


# --- claim ------------------------------------------------------------------------------------
def _claim(execution: Execution, *, worker: str) -> str:
    d = execution.deployment
    now = timezone.now()
    if execution.trigger in SCHEDULED and d.status != Deployment.Status.ACTIVE:
        reason = "suspended" if d.status == Deployment.Status.SUSPENDED else "undeployed"
        return (
            Outcome.SKIPPED
            if _end_pending(execution, status=S.SKIPPED, reason=reason)
            else (Outcome.NOT_PENDING)
        )
    due = execution.due_at or execution.scheduled_for
    late = (now - due).total_seconds()
    if execution.trigger in DEADLINED and late > d.starting_deadline_seconds:
        reason = (
            f"starting deadline passed: no worker could start it within "
            f"{d.starting_deadline_seconds} s (it was {late:.0f} s late)"
        )
        return (
            Outcome.MISSED
            if _end_pending(execution, status=S.MISSED, reason=reason)
            else (Outcome.NOT_PENDING)
        )
    policy = d.concurrency_policy
    with transaction.atomic():
        if policy != ConcurrencyPolicy.ALLOW or execution.trigger == T.CATCHUP:
            # Serialises the "is another one running?" check and the claim per deployment.
            list(Deployment.objects.select_for_update().filter(pk=d.pk).values_list("pk"))
            running = list(
                Execution.objects.filter(deployment_id=d.pk, status=S.RUNNING)
                .exclude(pk=execution.pk)
                .order_by("started_at")
                .values_list("pk", flat=True)[:20]
            )
            if execution.trigger == T.CATCHUP:
                waiting_older = (
                    Execution.objects.filter(
                        deployment_id=d.pk,
                        status=S.PENDING,
                        trigger=T.CATCHUP,
                        scheduled_for__lt=execution.scheduled_for,
                    )
                    .exclude(pk=execution.pk)
                    .exists()
                )
                # Catch-up runs of a Forbid/Replace deployment go one after another, oldest
                # first, instead of skipping each other; the catch-up window bounds the wait.
                if waiting_older or (running and policy != ConcurrencyPolicy.ALLOW):
                    if (now - execution.scheduled_for).total_seconds() <= d.catchup_window_seconds:
                        return Outcome.WAIT
                    reason = (
                        "scheduler down: the catch-up window passed while earlier runs were "
                        "still going"
                    )
                    done = (
                        Execution.objects.filter(pk=execution.pk, status=S.PENDING).update(
                            status=S.MISSED, reason=reason, finished_at=now
                        )
                        == 1
                    )
                    if done:
                        finished_on_commit([execution.pk])
                    return Outcome.MISSED if done else Outcome.NOT_PENDING
                running = []
            if running and policy == ConcurrencyPolicy.FORBID:
                reason = f"overlap forbidden (execution #{running[0]} still running)"
                done = (
                    Execution.objects.filter(pk=execution.pk, status=S.PENDING).update(
                        status=S.SKIPPED, reason=reason, finished_at=now
                    )
                    == 1
                )
                if not done:
                    return Outcome.NOT_PENDING
                finished_on_commit([execution.pk])
                execution.status, execution.reason = S.SKIPPED, reason
                return Outcome.SKIPPED
            if running and policy == ConcurrencyPolicy.REPLACE:
                Execution.objects.filter(pk__in=running, status=S.RUNNING).update(
                    cancel_requested=True, reason=f"replaced by execution #{execution.pk}"
                )
        fields = {
            "status": S.RUNNING,
            "started_at": now,
            "heartbeat_at": now,
            "worker": (worker or "")[:200],
            "config_revision": d.config_revision,
        }
        if execution.trigger in (T.SCHEDULE, T.CATCHUP) and d.build_id:
            # A tick runs what is deployed when it starts (a deploy in between wins).
            fields.update(
                build_id=d.build_id,
                image_ref=d.build.image_ref,
                image_digest=d.build.image_digest,
            )
        claimed = Execution.objects.filter(pk=execution.pk, status=S.PENDING).update(**fields)
        if claimed != 1:
            return Outcome.NOT_PENDING
    for key, value in fields.items():
        setattr(execution, key, value)
    if "build_id" in fields:
        execution.build = d.build
    return Outcome.RAN


# --- run --------------------------------------------------------------------------------------
class _Watch:
    """The runtime's `cancel` and `on_start` callbacks: heartbeat, cancel requests, start time."""

    def __init__(self, execution: Execution) -> None:
        self.execution = execution
        self.next_beat = time.monotonic() + HEARTBEAT_SECONDS
        self.stop = False

    def on_start(self, container_id: str) -> None:
        e = self.execution
        now = timezone.now()
        e.container_id = (container_id or "")[:80]
        e.started_at = now
        e.fire_lag_seconds = (now - (e.due_at or e.scheduled_for)).total_seconds()
        try:
            Execution.objects.filter(pk=e.pk).update(
                container_id=e.container_id,
                started_at=now,
                fire_lag_seconds=e.fire_lag_seconds,
                heartbeat_at=now,
            )
        except Exception:  # noqa: BLE001 - the run goes on; the claim time stays as start
            logger.exception("execution %s: could not record its start", e.pk)

    def cancel(self) -> bool:
        if self.stop:
            return True
        if time.monotonic() < self.next_beat:
            return False
        self.next_beat = time.monotonic() + HEARTBEAT_SECONDS
        try:
            alive = Execution.objects.filter(
                pk=self.execution.pk, status=S.RUNNING, cancel_requested=False
            ).update(heartbeat_at=timezone.now())
        except Exception:  # noqa: BLE001 - a database hiccup must not kill the task
            logger.exception("execution %s: heartbeat failed", self.execution.pk)
            return False
        # Not running any more (the reconciler ended it) or asked to stop: stop the task.
        self.stop = alive == 0
        return self.stop


def context_env(execution: Execution) -> dict[str, str]:
    """The scheduling context a task sees (docs: CHORUS_* variables)."""
    d = execution.deployment
    agg = Execution.objects.filter(deployment_id=d.pk).aggregate(
        count=Count("pk", filter=Q(status__in=RAN)),
        last=Max("scheduled_for", filter=Q(status=S.SUCCEEDED)),
    )
    env = {
        "CHORUS_EXECUTION_ID": str(execution.pk),
        "CHORUS_SCHEDULED_AT": execution.scheduled_for.isoformat(),
        "CHORUS_PERIODICITY": periodicity(d.schedule),
        "CHORUS_EXECUTION_COUNT": str(agg["count"] or 0),
        "CHORUS_LAST_SUCCESS_AT": agg["last"].isoformat() if agg["last"] else "",
        "CHORUS_ATTEMPT": str(execution.attempt),
        "CHORUS_ENVIRONMENT": d.environment.slug,
        "CHORUS_TRIGGER": execution.trigger,
        "CHORUS_DEPLOYMENT_ID": str(d.pk),
    }
    if execution.payload is not None:
        import json

        env["CHORUS_PAYLOAD"] = json.dumps(execution.payload)
    return env


def labels_for(execution: Execution) -> dict[str, str]:
    return {
        "chorus.execution": str(execution.pk),
        "chorus.deployment": str(execution.deployment_id),
        "chorus.managed": "true",
    }


def _judge(execution: Execution, result: RunResult, watch: _Watch, timeout: int):
    if result.timed_out:
        return S.TIMED_OUT, f"timed out after {timeout} s (the task was killed)"
    if result.cancelled or watch.stop:
        reason = (
            Execution.objects.filter(pk=execution.pk).values_list("reason", flat=True).first()
            or "cancelled"
        )
        return S.CANCELLED, reason
    if result.exit_code is None:
        return S.FAILED, (result.error or "the runtime gave no exit code")
    if result.exit_code == 0:
        return S.SUCCEEDED, ""
    return S.FAILED, (result.error or f"exit code {result.exit_code}")


def execution_run(*, execution_id: int, worker: str = "") -> str:
    """Run one pending execution to its end (the worker side). Returns an Outcome value."""
    execution = _load(execution_id)
    if execution is None or execution.status != S.PENDING:
        return Outcome.NOT_PENDING
    due = execution.due_at
    if due is not None:
        early = (due - timezone.now()).total_seconds()
        if early > EARLY_WAIT_MAX:
            return Outcome.WAIT
        if early > 0:
            time.sleep(early)
    outcome = _claim(execution, worker=worker)
    if outcome != Outcome.RAN:
        return outcome
    _execute(execution)
    return Outcome.RAN


def _execute(execution: Execution) -> None:
    d = execution.deployment
    env = d.environment
    log = LogWriter(owner=execution, line_model=ExecutionLogLine, fk_name="execution")
    watch = _Watch(execution)
    timeout = max(1, min(d.timeout_seconds, env.max_run_seconds))
    try:
        from ..config import deployment_runtime_env

        config, secrets = deployment_runtime_env(deployment=d)
        log.secrets = [s for s in secrets if s]
        image = execution.image_ref or (execution.build.image_ref if execution.build else "")
        if not image:
            result = RunResult(
                exit_code=None,
                error=f"build #{execution.build_id} has no image to run; build it again",
            )
        else:
            runtime = get_runtime(env)
            log(
                f"[chorus] execution #{execution.pk}: {execution.get_trigger_display().lower()} "
                f"run of the {execution.scheduled_for:%Y-%m-%d %H:%M:%S} UTC tick, attempt "
                f"{execution.attempt}, image {image}, config revision {execution.config_revision}, "
                f"{runtime.kind} runtime, timeout {timeout} s",
                "chorus",
            )
            result = runtime.run(
                image=image,
                env={**config, **context_env(execution)},
                limits=Limits(
                    memory_mb=env.memory_limit_mb, cpus=env.cpu_limit, pids=env.pids_limit
                ),
                timeout=timeout,
                log=log,
                labels=labels_for(execution),
                cancel=watch.cancel,
                on_start=watch.on_start,
            )
    except Exception as exc:  # noqa: BLE001 - every failure ends the execution, never "running"
        logger.exception("execution %s: the run crashed", execution.pk)
        result = RunResult(exit_code=None, error=f"Chorus could not run the task: {exc}")
    status, reason = _judge(execution, result, watch, timeout)
    if result.error and result.exit_code is not None:
        log(f"[chorus] {result.error}", "chorus")
    execution_finish(
        execution=execution,
        status=status,
        reason=reason,
        exit_code=result.exit_code,
        log=log,
    )


# --- finish -----------------------------------------------------------------------------------
def _summary(status: str, reason: str, exit_code, duration: float | None) -> str:
    took = f" in {duration:.1f} s" if duration is not None else ""
    if status == S.SUCCEEDED:
        return f"[chorus] succeeded (exit code 0){took}"
    if status == S.FAILED:
        code = f", exit code {exit_code}" if exit_code is not None else ""
        return f"[chorus] failed{code}{took}: {reason}"
    return f"[chorus] {status.replace('_', ' ')}{took}: {reason}"


def _retry(execution: Execution, now) -> tuple[Execution | None, str]:
    """The next attempt of a failed scheduled execution, if the policy allows one."""
    d = execution.deployment
    if execution.trigger not in SCHEDULED:
        return None, ""
    if execution.attempt > d.max_retries:
        if d.max_retries:
            return None, f"[chorus] no retry left ({d.max_retries} retries allowed)"
        return None, ""
    delay = d.retry_delay_seconds * 2 ** (execution.attempt - 1)
    due = now + timedelta(seconds=delay)
    nxt = Execution(
        deployment_id=d.pk,
        scheduled_for=execution.scheduled_for,
        attempt=execution.attempt + 1,
        trigger=T.RETRY,
        status=S.PENDING,
        queued_at=now,
        due_at=due,
        build_id=execution.build_id,
        image_ref=execution.image_ref,
        image_digest=execution.image_digest,
        config_revision=execution.config_revision,
        payload=execution.payload,
        parent_id=execution.pk,
        celery_task_id=new_task_id() if due - now <= ETA_MAX else "",
    )
    return nxt, (
        f"[chorus] retrying in {delay} s as attempt {nxt.attempt} of {d.max_retries + 1} "
        f"(backoff {d.retry_delay_seconds} s × 2^{execution.attempt - 1})"
    )


def execution_finish(
    *,
    execution: Execution,
    status: str,
    reason: str = "",
    exit_code: int | None = None,
    log: LogWriter | None = None,
    expect: tuple[str, ...] = (S.RUNNING,),
    where: Q | None = None,
    extra: dict | None = None,
) -> bool:
    """Record the final status of a running execution (once), schedule a retry if due, and
    tell observability. False when it was already finished by someone else."""
    now = timezone.now()
    started = execution.started_at
    duration = (now - started).total_seconds() if started else None
    retry, retry_line = (None, "")
    if status in Execution.FAILURES:
        retry, retry_line = _retry(execution, now)
    if log is None:
        log = LogWriter(owner=execution, line_model=ExecutionLogLine, fk_name="execution")
    log.flush()
    with transaction.atomic():
        done = (
            Execution.objects.filter(pk=execution.pk, status__in=expect)
            .filter(where or Q())
            .update(
                status=status,
                reason=(reason or "")[:300],
                exit_code=exit_code,
                finished_at=now,
                duration_seconds=duration,
                **(extra or {}),
            )
            == 1
        )
        if not done:
            return False
        # In the same transaction: the live view sees the last line with the final status.
        if retry_line:
            log(retry_line, "chorus")
        log.final(_summary(status, reason, exit_code, duration))
        finished_on_commit([execution.pk])
        if retry is not None:
            created = insert_claiming([retry])
            if created and retry.celery_task_id:
                dispatch_on_commit([(retry.pk, retry.celery_task_id, retry.due_at)])
    execution.status, execution.reason, execution.exit_code = status, reason, exit_code
    execution.finished_at, execution.duration_seconds = now, duration
    return True
