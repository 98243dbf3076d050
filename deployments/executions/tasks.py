"""Celery tasks of executions: thin wrappers around deployments.executions.

Queues: ticks and runs on "executions" (workers sized for many concurrent, mostly waiting
runs), the reconciler and retention on "chorus".
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.utils import timezone

# A run's own timeout (policy, at most the environment's max run time) ends it; these only
# stop a task that ignores it. Keep them under the broker's visibility timeout.
RUN_SOFT_LIMIT = int(getattr(settings, "CHORUS_EXECUTION_TASK_SOFT_LIMIT", 5 * 3600))
RUN_HARD_LIMIT = RUN_SOFT_LIMIT + 300
WAIT_COUNTDOWN = 2
DB_RETRIES = 8


@shared_task(
    name="chorus.execution.tick",
    queue="executions",
    soft_time_limit=50,
    time_limit=60,
    ignore_result=True,
)
def execution_tick_task(deployment_id: int, scheduled_for: str | None = None) -> int | None:
    """One tick of one deployment (what a stock scheduler sends; ChorusScheduler claims ticks
    in bulk itself). `scheduled_for` is the tick's ISO time; without it, the latest tick."""
    from deployments.executions.ticks import execution_tick

    execution = execution_tick(deployment_id=deployment_id, scheduled_for=scheduled_for)
    return execution.pk if execution else None


@shared_task(
    bind=True,
    name="chorus.execution.run",
    queue="executions",
    acks_late=True,
    soft_time_limit=RUN_SOFT_LIMIT,
    time_limit=RUN_HARD_LIMIT,
    ignore_result=True,
    max_retries=None,
)
def execution_run_task(self, execution_id: int, due: float | None = None, hold: str = "") -> str:
    """Run one execution; `due` (Unix time) is when it should start (it may arrive early);
    `hold` (a runtime kind) starts it ahead of `due`, held until it (executions/hold.py)."""
    from django.db import InterfaceError, OperationalError

    from deployments.executions.claims import Outcome
    from deployments.executions.run import execution_run
    from deployments.models import Execution

    try:
        outcome = execution_run(
            execution_id=execution_id, worker=self.request.hostname or "", due=due, hold=hold
        )
    except (OperationalError, InterfaceError) as exc:
        # The database is unreachable for a moment: the execution is still pending (a claim
        # is one transaction), so trying again later is safe; the deadline still applies.
        if self.request.retries >= DB_RETRIES:
            raise
        raise self.retry(exc=exc, countdown=min(2**self.request.retries, 30)) from exc
    if outcome == Outcome.WAIT:
        due = Execution.objects.filter(pk=execution_id).values_list("due_at", flat=True).first()
        if due is not None and due > timezone.now():
            raise self.retry(eta=due)
        raise self.retry(countdown=WAIT_COUNTDOWN)
    return outcome


@shared_task(
    name="chorus.reconcile",
    queue="chorus",
    soft_time_limit=50,
    time_limit=60,
    ignore_result=True,
)
def reconcile_task() -> dict:
    from deployments.executions.reconcile import reconcile

    report = reconcile()
    return {
        "worker_lost": report.worker_lost,
        "orphans_removed": len(report.orphans_removed),
        "missed": len(report.missed),
        "dispatched": len(report.dispatched),
    }


@shared_task(
    name="chorus.execution.cleanup",
    queue="chorus",
    soft_time_limit=1500,
    time_limit=1800,
    ignore_result=True,
)
def executions_cleanup_task() -> int:
    from deployments.executions.retention import executions_cleanup

    return executions_cleanup()


__all__ = [
    "execution_run_task",
    "execution_tick_task",
    "executions_cleanup_task",
    "reconcile_task",
]
