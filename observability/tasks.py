"""Celery tasks of observability: thin wrappers around services (queue "chorus")."""

from __future__ import annotations

from celery import shared_task


@shared_task(
    name="chorus.observability.execution_finished",
    queue="chorus",
    soft_time_limit=60,
    time_limit=90,
    ignore_result=True,
)
def execution_finished_task(execution_id: int) -> None:
    """Fold one finished execution into its hourly rollup, then evaluate its alert rules."""
    # Filled in by the rollup / alert services; kept importable from the first commit on.
    return None
