"""The worker side: start a pending execution when it is due, run it, finish it honestly.

`execution_run` waits for the execution's due time (messages arrive ahead of the tick), claims
it together with everything else due at that instant in this process (batch.py, claims.py),
starts the runtime at once, and records the end. While it runs the worker writes a heartbeat every few
seconds (the same query notices a cancel request); the reconciler (deployments/executions/reconcile.py)
finishes executions whose heartbeat stopped. Every way a run ends leaves a final status, a
reason and a last log line — never "running".

Fire lag is when the task began minus when the execution was due: its tick for scheduled runs
and catch-ups' decision time, the request for manual ones, the end of the backoff for retries.
The task began when the runtime started it, or, for a run started ahead and held until its
tick (hold.py), when the hold wrapper handed over to the task (the time it reports itself).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from django.utils import timezone

from components.models import Component
from deployments.executions.batch import start_when_due
from deployments.executions.claims import Outcome, Started
from deployments.executions.finish import execution_finish
from deployments.executions.results import read_result
from deployments.executions.watch import (
    DB_ERRORS,
    RunLog,
    RunWatch,
    keepalive,
    lost_connection,
    release_connection,
)
from deployments.installation import installation_labels
from deployments.logs import LogWriter
from deployments.models import Build, Execution, ExecutionLogLine
from deployments.runtimes import runtime_for_kind
from deployments.runtimes.base import Limits, RunHandle, RunResult
from deployments.schedules.parsing import parse_schedule

logger = logging.getLogger(__name__)

Status = Execution.Status
Trigger = Execution.Trigger

# A message that arrives this much before its due time waits in the task; earlier ones go back
# to the broker with an ETA.
EARLY_WAIT_MAX = 60.0
GATE_WAIT_SECONDS = 10.0
# How long a finished run waits for an unreachable database to record its end.
FINISH_RETRY_SECONDS = 120.0
# How long a claimed batch waits for an unreachable database to read what its runs need.
FACTS_RETRY_SECONDS = 30.0

__all__ = ["context_env", "execution_run", "labels_for"]


@lru_cache(maxsize=4096)
def periodicity(expr: str, seed: str = "") -> str:
    try:
        return parse_schedule(expr, seed).canonical
    except Exception:  # noqa: BLE001 - an unparsable schedule still runs manual executions
        return expr


def context_env(started: Started) -> dict[str, str]:
    """The scheduling context a task sees as CHORUS_* variables (docs/executions.md)."""
    e = started.execution
    d = e.deployment
    env = {
        "CHORUS_EXECUTION_ID": str(e.pk),
        "CHORUS_SCHEDULED_AT": e.scheduled_for.astimezone(UTC).isoformat(),
        "CHORUS_PERIODICITY": periodicity(d.schedule, d.schedule_seed),
        "CHORUS_EXECUTION_COUNT": str(started.executions_before + 1),
        "CHORUS_LAST_SUCCESS_AT": (
            started.last_success_at.astimezone(UTC).isoformat() if started.last_success_at else ""
        ),
        "CHORUS_ATTEMPT": str(e.attempt),
        "CHORUS_ENVIRONMENT": started.environment.slug,
        "CHORUS_TRIGGER": e.trigger,
        "CHORUS_DEPLOYMENT_ID": str(d.pk),
    }
    if e.payload is not None:
        env["CHORUS_PAYLOAD"] = json.dumps(e.payload)
    # CHORUS_RESULT_FILE is set by the runtime, which knows where the task can write it.
    return env


def labels_for(execution: Execution) -> dict[str, str]:
    return {
        "chorus.execution": str(execution.pk),
        "chorus.deployment": str(execution.deployment_id),
        "chorus.managed": "true",
        **installation_labels(),
    }


# --- the run ----------------------------------------------------------------------------------
def _judge(execution: Execution, result: RunResult, watch: RunWatch, timeout: int, reported):
    if result.timed_out:
        return Status.TIMED_OUT, f"timed out after {timeout} s (the task was killed)"
    if result.cancelled or watch.stop:
        reason = (
            Execution.objects.filter(pk=execution.pk).values_list("reason", flat=True).first()
            or "cancelled"
        )
        return Status.CANCELLED, reason
    if result.exit_code is None:
        return Status.FAILED, (result.error or "the runtime gave no exit code")
    if result.exit_code == 0:
        if reported and reported.get("status") == "partial":
            return Status.PARTIAL, "the task reported a partial result"
        return Status.SUCCEEDED, ""
    return Status.FAILED, (result.error or f"exit code {result.exit_code}")


def execution_run(
    *, execution_id: int, worker: str = "", due: float | str | None = None, hold: str = ""
) -> str:
    """Run one pending execution to its end (the worker side). Returns an Outcome value.

    `due` (Unix time or ISO text, from the message) saves reading the row before its time;
    `hold` (the runtime kind of its build, from the message) starts it ahead, held (hold.py).
    """
    if isinstance(due, str):
        due = datetime.fromisoformat(due).timestamp()
    if due is None:
        row = Execution.objects.filter(pk=execution_id).values_list("status", "due_at").first()
        if row is None or row[0] != Status.PENDING:
            return Outcome.NOT_PENDING
        due = (row[1] or timezone.now()).timestamp()
    if due - time.time() > EARLY_WAIT_MAX:
        return Outcome.WAIT
    release_connection()  # while waiting for the tick
    result = start_when_due(execution_id, due, worker=worker, plan=_plan_all, hold=hold)
    if result == Outcome.DEFER:  # another run of its deployment is going: decide at the tick
        result = start_when_due(execution_id, due, worker=worker, plan=_plan_all)
    if not isinstance(result, Started):
        return result
    _execute(result)
    return Outcome.RAN


@dataclass
class _Plan:
    log: LogWriter
    watch: RunWatch
    timeout: int
    runtime: object | None = None
    run_kwargs: dict | None = None
    error: str = ""
    handle: RunHandle | None = None  # started by the batch leader (quick_start runtimes)
    start_error: BaseException | None = None
    # A run claimed ahead of its tick whose runtime cannot hold it waits for the tick itself.
    wait_until: float | None = None
    # Why a held run must not go ahead (hold.guard): it ends skipped with this reason.
    withdrawn: str = ""


def _plan_all(batch: list[Started]) -> None:
    """Prepare every run of a batch (the leader does it, once per environment for the
    runtime), so that at the tick each thread only starts its task.

    Runtimes whose start costs nothing (`quick_start`) are started here, in a row: waking
    thousands of threads first, each to start its own run, is what made a big tick late.
    Their threads then only follow the run to its end."""
    for started in batch:
        keepalive.hold(started.execution.pk, _timeout(started))  # until the run is recorded
    runtimes = _batch_facts_riding_out_the_database(batch)
    for started in batch:
        try:
            started.plan = _plan_one(started, runtimes)
        except Exception:  # noqa: BLE001 - that run fails with the reason, not the batch
            logger.exception("execution %s: could not prepare the run", started.execution.pk)
            started.plan = None  # its thread tries again and fails with the reason
    release_connection()  # starting the runs below is the engine's work, not the database's
    for started in batch:
        plan = started.plan
        if plan is None or plan.error or not getattr(plan.runtime, "quick_start", False):
            continue
        plan.log.hold = True
        try:
            plan.handle = plan.runtime.start(**plan.run_kwargs)
        except Exception as exc:  # noqa: BLE001 - its thread ends it with the reason
            plan.start_error = exc
        finally:
            plan.log.hold = False


def _plan_one(started: Started, runtimes: dict) -> _Plan:
    execution = started.execution
    d = execution.deployment
    env = started.environment
    log = RunLog(
        owner=execution,
        line_model=ExecutionLogLine,
        fk_name="execution",
        secrets=started.secrets,
        seq=0 if not execution.log_bytes else None,
    )
    watch = RunWatch(execution, started, log)
    plan = _Plan(log=log, watch=watch, timeout=_timeout(started))
    image = execution.image_ref or (execution.build.image_ref if execution.build_id else "")
    if not image:
        plan.error = f"build #{execution.build_id} has no image to run; build it again"
        return plan
    # The image runs where it was built (a Docker image never falls back to the local runtime).
    built_with = _fact(runtimes, "built_with", execution.build_id)
    key = (env.pk, built_with)
    runtime = runtimes.get(key)
    if runtime is None:
        runtime = runtimes[key] = runtime_for_kind(built_with, env)
    plan.runtime = runtime
    log(
        f"[chorus] execution #{execution.pk}: {execution.get_trigger_display().lower()} "
        f"run for {execution.scheduled_for.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC, "
        f"attempt {execution.attempt}, image {image}, config revision "
        f"{execution.config_revision}, {runtime.kind} runtime, timeout {plan.timeout} s",
        "chorus",
    )
    plan.run_kwargs = {
        "image": image,
        "env": {**started.config, **context_env(started)},
        "limits": Limits(memory_mb=env.memory_limit_mb, cpus=env.cpu_limit, pids=env.pids_limit),
        "timeout": plan.timeout,
        "log": log,
        "labels": labels_for(execution),
        "cancel": watch.should_stop,
        "on_start": watch.on_start,
        "run_as_root": _fact(runtimes, "run_as_root", d.component_id),
    }
    if started.hold_until is not None:
        if getattr(runtime, "can_hold", False):
            watch.held = True
            plan.run_kwargs.update(hold_until=started.hold_until, on_begin=watch.on_begin)
            held_to = datetime.fromtimestamp(started.hold_until, UTC)
            log(
                f"[chorus] starting ahead of its tick, to be held until {held_to:%H:%M:%S.%f} UTC",
                "chorus",
            )
        else:
            plan.wait_until = started.hold_until
    return plan


def _timeout(started: Started) -> int:
    """The run's own time limit: the deployment's, at most its environment's."""
    d, env = started.execution.deployment, started.environment
    return max(1, min(d.timeout_seconds, env.max_run_seconds))


def _batch_facts(batch: list[Started]) -> dict:
    """What each run needs from its build and component (which runtime built the image, may it
    run as root), read in two queries for the whole batch: a big tick has thousands."""
    build_ids = {s.execution.build_id for s in batch if s.execution.build_id}
    component_ids = {s.execution.deployment.component_id for s in batch}
    facts: dict = {
        ("built_with", pk): kind
        for pk, kind in Build.objects.filter(pk__in=build_ids).values_list("pk", "runtime_kind")
    }
    facts.update(
        (("run_as_root", pk), root)
        for pk, root in Component.objects.filter(pk__in=component_ids).values_list(
            "pk", "run_as_root"
        )
    )
    return facts


def _batch_facts_riding_out_the_database(batch: list[Started]) -> dict:
    """_batch_facts, tried again while the database restarts: the runs are claimed already,
    and a failure here would leave them to the reconciler as lost."""
    deadline = time.monotonic() + FACTS_RETRY_SECONDS
    while True:
        try:
            return _batch_facts(batch)
        except DB_ERRORS:
            if time.monotonic() > deadline:
                raise
            logger.warning("the database is unreachable; reading the runs' builds again shortly")
            lost_connection()
            time.sleep(0.5)


def _fact(facts: dict, name: str, pk: int | None):
    """One of _batch_facts' answers; read on its own for a run prepared outside a batch."""
    key = (name, pk)
    if key not in facts:
        if name == "built_with":
            facts[key] = (
                Build.objects.filter(pk=pk).values_list("runtime_kind", flat=True).first() or ""
            )
        else:
            facts[key] = bool(
                Component.objects.filter(pk=pk).values_list("run_as_root", flat=True).first()
            )
    return facts[key]


def _execute(started: Started) -> None:
    try:
        _run_and_finish(started)
    finally:
        keepalive.release(started.execution.pk)


def _run_and_finish(started: Started) -> None:
    execution = started.execution
    plan = started.plan
    try:
        if plan is None:
            plan = _plan_one(started, {})
        if plan.wait_until is not None and plan.wait_until > time.time():
            time.sleep(plan.wait_until - time.time())
        if plan.error:
            result = RunResult(exit_code=None, error=plan.error)
        elif plan.withdrawn:
            result = RunResult(exit_code=None)
        elif plan.start_error is not None:
            raise plan.start_error
        else:
            # The engine may take long to answer (busy, restarting): no pooled connection is
            # held meanwhile (the run's log and heartbeat take one when they need it).
            release_connection()
            handle = plan.handle or plan.runtime.start(**plan.run_kwargs)
            result = handle.wait()
    except Exception as exc:  # noqa: BLE001 - every failure ends the execution, never "running"
        logger.exception("execution %s: the run crashed", execution.pk)
        result = RunResult(exit_code=None, error=f"Chorus could not run the task: {exc}")
        if plan is None:
            plan = _Plan(
                log=RunLog(owner=execution, line_model=ExecutionLogLine, fk_name="execution"),
                watch=RunWatch(execution, started),
                timeout=0,
            )
    log, watch, timeout = plan.log, plan.watch, plan.timeout
    if watch.held and watch.began is None and not plan.withdrawn and result.exit_code is not None:
        # The wrapper said nothing (its clock unreadable?): the task began at its tick, or when
        # its container started if that was later.
        watch.on_begin(max(started.hold_until or 0.0, watch.container_started or 0.0))
        log("[chorus] the hold wrapper did not report when the task began", "chorus")
    # Let the other runs of this batch start before this one's bookkeeping (see claims.Gate).
    started.mark_started()
    if started.gate is not None:
        started.gate.wait(timeout=GATE_WAIT_SECONDS)
    if plan.runtime is not None and not plan.error and plan.start_error is None:
        watch.save_snapshot()
    reported = read_result(result.result, started.secrets)
    status, reason = _judge(execution, result, watch, timeout, reported)
    if plan.withdrawn:
        # Removed while held; had it already begun (a change in the last instant), it says so.
        status, reason = (
            (Status.CANCELLED, plan.withdrawn) if watch.began else (Status.SKIPPED, plan.withdrawn)
        )
    if result.error and result.exit_code is not None:
        log(f"[chorus] {result.error}", "chorus")
    extra = watch.start_fields()
    if result.image_id:
        # What the engine says it ran, not what the deployment asked for: the production
        # gate compares this (deploy/services/rules.py).
        if execution.image_digest and result.image_id != execution.image_digest:
            log(
                f"[chorus] the engine ran image {result.image_id}, "
                f"not {execution.image_digest} as deployed",
                "chorus",
            )
        extra["image_digest"] = result.image_id[:100]
    if reported and reported.get("error"):
        log(f"[chorus] result file ignored: {reported['error']}", "chorus")
    if reported is not None:
        extra["result"] = reported
    _finish_riding_out_the_database(
        execution=execution,
        status=status,
        reason=reason,
        exit_code=result.exit_code,
        log=log,
        extra=extra,
    )


def _finish_riding_out_the_database(*, log: LogWriter, **fields) -> None:
    """execution_finish, tried again while the database restarts: the run happened, and its
    outcome and last lines must not be lost for want of a connection for a few seconds."""
    deadline = time.monotonic() + FINISH_RETRY_SECONDS
    while True:
        point = log.checkpoint()
        try:
            execution_finish(log=log, **fields)
            return
        except DB_ERRORS:
            if time.monotonic() > deadline:
                raise
            log.rollback(point)
            logger.warning(
                "execution %s: the database is unreachable; recording its end again shortly",
                fields["execution"].pk,
            )
            lost_connection()
            time.sleep(2)
