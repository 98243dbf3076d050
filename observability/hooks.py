"""Entry points other apps call into observability. Cheap and never raising into the caller."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def execution_finished(execution_id: int) -> None:
    """An execution reached a final status (succeeded, failed, timed out, cancelled, skipped,
    missed). Called by deployments/executions/dispatch.py via `transaction.on_commit`.

    Only enqueues `chorus.observability.execution_finished` (rollup update + alert
    evaluation); the caller's work is done already, so a broker hiccup must not turn a
    finished run into an error: it is logged, and the periodic recompute repairs the rollup.
    """
    try:
        from .tasks import execution_finished_task

        execution_finished_task.delay(int(execution_id))
    except Exception:  # noqa: BLE001 - never raise into the executions code path
        log.exception("observability: could not enqueue execution_finished(%s)", execution_id)
