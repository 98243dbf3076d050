"""Celery tasks of observability: thin wrappers around services, all on queue "chorus"."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

log = logging.getLogger(__name__)


@shared_task(
    name="chorus.observability.execution_finished",
    queue="chorus",
    soft_time_limit=60,
    time_limit=90,
    ignore_result=True,
)
def execution_finished_task(execution_id: int) -> None:
    """Fold one finished execution into its hourly rollup, then evaluate its alert rules
    (the embedded broker's path; with Redis, drain_finished_task folds them in batches)."""
    from .services.finished import executions_finished_fold

    executions_finished_fold(execution_ids=[execution_id])


@shared_task(
    name="chorus.observability.drain_finished",
    queue="chorus",
    soft_time_limit=50,
    time_limit=60,
    ignore_result=True,
)
def drain_finished_task() -> int:
    """Fold the finished executions the hook listed in Redis (services/finished.py)."""
    from .services.finished import finished_drain

    return finished_drain()


@shared_task(
    name="chorus.observability.evaluate_alerts",
    queue="chorus",
    soft_time_limit=60,
    time_limit=90,
    ignore_result=True,
)
def evaluate_alerts_task(execution_ids: list[int]) -> None:
    """Evaluate the alert rules of one deployment's finished executions, in tick order."""
    from .services.finished import executions_alerts

    executions_alerts(execution_ids=execution_ids)


@shared_task(
    name="chorus.observability.recompute_recent",
    queue="chorus",
    soft_time_limit=240,
    time_limit=300,
    ignore_result=True,
)
def recompute_recent_task() -> int:
    from .services.rollups import rollup_recompute_recent

    return rollup_recompute_recent(hours=settings.CHORUS_ROLLUP_RECOMPUTE_HOURS)


@shared_task(
    name="chorus.observability.cleanup",
    queue="chorus",
    soft_time_limit=1500,
    time_limit=1800,
    ignore_result=True,
)
def cleanup_task() -> None:
    from .services.retention import retention_cleanup

    retention_cleanup()


@shared_task(
    name="chorus.observability.check_alerts",
    queue="chorus",
    soft_time_limit=50,
    time_limit=60,
    ignore_result=True,
)
def check_alerts_task() -> None:
    """Finished runs no drain took, runs still going past a long_run limit, ticks that passed
    with no run recorded, deliveries left pending or failed."""
    from .services.alerts import alerts_check_overdue, alerts_check_running
    from .services.delivery import alerts_send_pending
    from .services.finished import finished_drain

    try:
        finished_drain()  # what a lost drain message left behind
    except Exception:  # noqa: BLE001 - Redis down: the checks below still run
        log.exception("observability: could not drain finished executions")
    alerts_check_running()
    alerts_check_overdue()
    alerts_send_pending()
