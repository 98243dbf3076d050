"""Putting executions on the queue, and telling observability when one is final.

Claiming a tick is an INSERT that may conflict: `insert_claiming` writes many Execution rows in
one statement with `ON CONFLICT (deployment, scheduled_for, attempt) DO NOTHING RETURNING`, so
the caller learns exactly which rows it created. Only the creator publishes a run message for a
row: two beat processes, a restarted beat or a repeated tick never dispatch one tick twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from deployments.models import Execution

logger = logging.getLogger(__name__)

INSERT_CHUNK = 1000
# A run due further ahead than this is held by the worker with an ETA until PRESTAGE before
# it; nearer ones go to a worker thread at once and wait there, so the tasks of one tick are
# all waiting when it comes and start together (batch.py). Celery releases ETA messages at
# about ten per second per worker, far too slow for a thousand runs due at the same second.
HOLD_AFTER = timedelta(seconds=40)
PRESTAGE = timedelta(seconds=5)


def new_task_id() -> str:
    return str(uuid.uuid4())


def _insert_columns() -> list:
    return [f for f in Execution._meta.concrete_fields if not f.primary_key]


def insert_claiming(rows: Sequence[Execution]) -> list[tuple[int, int, str]]:
    """INSERT rows, skipping any whose (deployment, scheduled_for, attempt) exists.

    Returns (id, deployment_id, status) of the rows this call created, and sets their pk.
    """
    if not rows:
        return []
    # Same key order in every writer: concurrent inserts of the same ticks (two beats) wait
    # for each other instead of deadlocking.
    rows = sorted(rows, key=lambda r: (r.deployment_id, r.scheduled_for, r.attempt))
    fields = _insert_columns()
    qn = connection.ops.quote_name
    table = qn(Execution._meta.db_table)
    columns = ", ".join(qn(f.column) for f in fields)
    created: list[tuple[int, int, str]] = []
    by_key = {(r.deployment_id, r.scheduled_for, r.attempt): r for r in rows}
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start : start + INSERT_CHUNK]
        params: list = []
        for row in chunk:
            for f in fields:
                params.append(f.get_db_prep_save(f.pre_save(row, True), connection))
        one = "(" + ", ".join(["%s"] * len(fields)) + ")"
        sql = (
            f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(chunk))} "
            f"ON CONFLICT ({qn('deployment_id')}, {qn('scheduled_for')}, {qn('attempt')}) "
            f"DO NOTHING RETURNING {qn('id')}, {qn('deployment_id')}, {qn('scheduled_for')}, "
            f"{qn('attempt')}, {qn('status')}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for pk, deployment_id, scheduled_for, attempt, status in cursor.fetchall():
                if isinstance(scheduled_for, str):  # SQLite returns text
                    scheduled_for = datetime.fromisoformat(scheduled_for)
                if timezone.is_naive(scheduled_for):
                    scheduled_for = scheduled_for.replace(tzinfo=UTC)
                row = by_key.get((deployment_id, scheduled_for, attempt))
                if row is not None:
                    row.pk = pk
                    row._state.adding = False
                created.append((pk, deployment_id, status))
    return created


def publish_runs(items: Iterable[tuple[int, str, datetime | None]]) -> int:
    """Publish `chorus.execution.run` for (execution id, task id, due) now, in one connection.

    A due time in the future travels with the message (the task waits for it); past or
    missing: the run starts as soon as a worker is free. A future run whose build's runtime can
    hold a started task (hold.HOLD_KINDS) says so (`hold`): the worker starts it ahead.
    """
    from deployments.executions.hold import HOLD_KINDS, MAX_LEAD_SECONDS
    from deployments.executions.tasks import execution_run_task

    items = list(items)
    if not items:
        return 0
    now = timezone.now()
    routes = _routes([i[0] for i in items])
    with execution_run_task.app.producer_or_acquire() as producer:
        for execution_id, task_id, due in items:
            options: dict = {"task_id": task_id or new_task_id(), "producer": producer}
            queue, kind = routes.get(execution_id, ("", ""))
            if queue:
                options["queue"] = queue
            kwargs: dict = {}
            if due is not None and due > now:
                kwargs["due"] = due.timestamp()
                lead = timedelta(0)
                if kind in HOLD_KINDS:
                    kwargs["hold"] = kind
                    lead = timedelta(seconds=MAX_LEAD_SECONDS)
                if due - now > HOLD_AFTER + lead:
                    options["eta"] = due - PRESTAGE - lead
            execution_run_task.apply_async((execution_id,), kwargs, **options)
    return len(items)


def _routes(execution_ids: list[int]) -> dict[int, tuple[str, str]]:
    """Execution id -> (its environment's own queue or "", the runtime kind of its build).
    An environment may name a queue (Environment.queue, e.g. "executions.prod"); without one
    runs go to the task's "executions"."""
    found: dict[int, tuple[str, str]] = {}
    for start in range(0, len(execution_ids), INSERT_CHUNK):
        chunk = execution_ids[start : start + INSERT_CHUNK]
        for pk, queue, kind in Execution.objects.filter(pk__in=chunk).values_list(
            "pk", "deployment__environment__queue", "build__runtime_kind"
        ):
            found[pk] = (queue or "", kind or "")
    return found


def dispatch_on_commit(items: Sequence[tuple[int, str, datetime | None]]) -> None:
    """Publish once the rows are committed (a worker must see them)."""
    items = list(items)
    if items:
        transaction.on_commit(lambda: publish_or_release(items))


def publish_or_release(items) -> bool:
    """publish_runs; when the broker does not take them, the rows still pending lose their
    task id, which is how the reconciler knows to publish them again. True if published."""
    try:
        publish_runs(items)
        return True
    except Exception:  # noqa: BLE001 - rows stay pending; the reconciler dispatches them again
        logger.exception(
            "could not publish %d execution run(s); the reconciler retries", len(items)
        )
        Execution.objects.filter(
            pk__in=[i[0] for i in items], status=Execution.Status.PENDING
        ).update(celery_task_id="")
        return False


def finished_on_commit(execution_ids: Iterable[int]) -> None:
    """observability.hooks.execution_finished(id) for each, after the commit."""
    ids = [int(i) for i in execution_ids]
    if not ids:
        return

    def call() -> None:
        from observability.hooks import execution_finished

        for execution_id in ids:
            execution_finished(execution_id)

    transaction.on_commit(call)
