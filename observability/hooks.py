"""Entry points other apps call into observability. Cheap and never raising into the caller."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def execution_finished(execution_id: int) -> None:
    """An execution reached a final status (succeeded, failed, timed out, cancelled, skipped,
    missed). Called by deployments/executions/dispatch.py via `transaction.on_commit`.

    With a Redis broker the id joins the list a drain task folds into rollups in batches, and
    a run whose deployment has an alert rule is evaluated by a task of its own at once
    (services/finished.py); with the embedded broker, or when Redis refuses the id, it goes as
    a `chorus.observability.execution_finished` task (rollup and alerts). The caller's work is
    done already, so a broker hiccup must not turn a finished run into an error: it is logged,
    and the periodic recompute repairs the rollup.
    """
    try:
        from .services.finished import finished_alerts_enqueue, finished_enqueue, redis_client

        client = redis_client()
        if client is not None:
            try:
                finished_enqueue(execution_ids=[execution_id], client=client)
            except Exception:  # noqa: BLE001 - try the plain task below
                log.warning("observability: finished-executions list unavailable", exc_info=True)
            else:
                finished_alerts_enqueue(execution_ids=[execution_id])
                return
        from .tasks import execution_finished_task

        execution_finished_task.delay(int(execution_id))
    except Exception:  # noqa: BLE001 - never raise into the executions code path
        log.exception("observability: could not enqueue execution_finished(%s)", execution_id)
