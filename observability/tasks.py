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
    """Fold one finished execution into its hourly rollup, then evaluate its alert rules."""
    from .services.alerts import alerts_evaluate_execution
    from .services.rollups import rollup_fold_execution

    execution = rollup_fold_execution(execution_id=execution_id)
    if execution is not None:
        alerts_evaluate_execution(execution_id=execution_id)


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
    """Runs still going past a long_run limit, ticks that passed with no run recorded,
    deliveries left pending or failed."""
    from .services.alerts import alerts_check_overdue, alerts_check_running
    from .services.delivery import alerts_send_pending

    alerts_check_running()
    alerts_check_overdue()
    alerts_send_pending()
