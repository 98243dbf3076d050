"""Finished executions, folded into rollups in batches instead of one task each.

At 1,000 runs a minute a Celery task per finished run costs a worker more in task overhead
and per-run queries than the fold itself. With a Redis broker, the hook instead appends the
id to a Redis list (`QUEUE`) and schedules one drain task, at most one waiting at a time
(`SCHEDULED`, SET NX): the drain deletes that flag, then folds what the list holds in
batches, one rollup transaction per batch (services/rollups.py: rollup_fold_executions). A
run finishing after the flag was deleted sets it again and schedules the next drain, so no id
waits for a drain that will not come.

Alert rules do not wait for a drain: a run whose deployment has an enabled rule gets a
`chorus.observability.evaluate_alerts` task of its own at once (`finished_alerts_enqueue`:
one small query answers the usual deployment without a rule; no task then). A failure evaluated
late, after the next run already succeeded, opens nothing (alerts.py: a verdict a later run
overturned), so evaluating failures behind a backlog of drains would lose alerts on a busy
worker.

Nothing is lost and nothing counted twice:
- ids are removed from the list (LTRIM) only after their batch is folded, by the one drain
  holding `LOCK`; a drain that dies in between leaves them at the head of the list for the
  next one. Folding again is harmless: a rollup is recomputed from raw rows and joined with
  the stored row (never added to);
- a drain that cannot get the lock schedules a drain for later (the holder may be past its
  last look at the list);
- `chorus.observability.check_alerts` (every minute) drains what a lost drain message left,
  and the periodic rollup recompute repairs rollups whatever happens to the list.

With the embedded broker (no Redis: `make run` on a bare machine) the hook keeps sending one
`chorus.observability.execution_finished` task per run, which folds and evaluates through the
same functions.
"""

from __future__ import annotations

import functools
import logging
import time

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from .alerts import alerts_any_ruled, alerts_evaluate_executions, alerts_to_evaluate
from .delivery import delivery_send
from .rollups import rollup_fold_executions

log = logging.getLogger(__name__)

QUEUE = "chorus:observability:finished"
SCHEDULED = f"{QUEUE}:scheduled"
LOCK = f"{QUEUE}:lock"
# Finished runs gather this long before a drain folds them: one drain a second at most.
DRAIN_DELAY_SECONDS = 1.0
# A drain message that vanished (broker restart) stops holding back the next one after this.
SCHEDULED_TTL_SECONDS = 30
# Longer than a drain's hard time limit, so only a dead drain's lock ever expires.
LOCK_SECONDS = 120
BATCH = 500
# A drain hands over to a fresh task after this long, to stay well inside its time limit.
DRAIN_BUDGET_SECONDS = 20.0


def executions_finished_fold(*, execution_ids) -> list[int]:
    """Fold finished executions into their rollups, evaluate their alert rules and send what
    that queued (one task's worth: the embedded broker's per-run task, tests). Returns the ids
    of the alert deliveries created."""
    ids = [int(i) for i in execution_ids]
    rollup_fold_executions(execution_ids=ids)
    return executions_alerts(execution_ids=ids)


def executions_alerts(*, execution_ids) -> list[int]:
    """Evaluate the alert rules of finished executions, then send what that queued."""
    deliveries = alerts_evaluate_executions(execution_ids=execution_ids)
    _send(deliveries)
    return deliveries


def _send(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        try:
            delivery_send(delivery_id=delivery_id)
        except SoftTimeLimitExceeded:
            raise  # out of time: the rest stay pending for alerts_send_pending
        except Exception:  # noqa: BLE001 - still pending: alerts_send_pending sends it later
            log.exception("observability: sending alert delivery %s failed", delivery_id)


@functools.cache
def _client_for(url: str):
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def redis_client():
    """The broker's Redis, or None with the embedded broker (the per-run task path)."""
    url = settings.CELERY_BROKER_URL
    if settings.CELERY_TASK_ALWAYS_EAGER or not url.startswith(("redis://", "rediss://")):
        return None
    return _client_for(url)


def finished_enqueue(*, execution_ids, client) -> None:
    """Append ids to the list and make sure a drain is scheduled. Raises on a Redis error."""
    ids = [int(i) for i in execution_ids]
    if not ids:
        return
    with client.pipeline(transaction=False) as pipe:
        pipe.rpush(QUEUE, *ids)
        pipe.set(SCHEDULED, "1", nx=True, ex=SCHEDULED_TTL_SECONDS)
        _, scheduled = pipe.execute()
    if scheduled:
        _schedule_drain(client)


def _schedule_drain(client) -> None:
    from ..tasks import drain_finished_task

    try:
        drain_finished_task.apply_async(countdown=DRAIN_DELAY_SECONDS)
    except Exception:
        client.delete(SCHEDULED)  # the next finished run tries again
        raise


def finished_drain(*, client=None) -> int:
    """Fold everything the list holds, batch by batch. Returns the number of ids folded."""
    client = client or redis_client()
    if client is None:
        return 0
    lock = client.lock(LOCK, timeout=LOCK_SECONDS, blocking=False)
    if not lock.acquire():
        # The holder may already have looked at the list for the last time.
        if client.set(SCHEDULED, "1", nx=True, ex=SCHEDULED_TTL_SECONDS):
            _schedule_drain(client)
        return 0
    folded = 0
    started = time.monotonic()
    try:
        while True:
            client.delete(SCHEDULED)  # from here on, a new id schedules a new drain
            raw = client.lrange(QUEUE, 0, BATCH - 1)
            if not raw:
                break
            _fold_batch(_ids(raw))
            lock.reacquire()  # still ours: only the holder trims the list's head
            client.ltrim(QUEUE, len(raw), -1)
            folded += len(raw)
            if time.monotonic() - started > DRAIN_BUDGET_SECONDS and client.llen(QUEUE):
                if client.set(SCHEDULED, "1", nx=True, ex=SCHEDULED_TTL_SECONDS):
                    _schedule_drain(client)
                break
    finally:
        try:
            lock.release()
        except Exception:  # noqa: BLE001 - expired: the next drain takes it over anyway
            log.warning("observability: the finished-executions lock was gone at release")
    return folded


def _fold_batch(ids: list[int]) -> None:
    """The batch's rollups, in one transaction (alerts went at once: finished_alerts_enqueue)."""
    rollup_fold_executions(execution_ids=ids)


def finished_alerts_enqueue(*, execution_ids) -> int:
    """One evaluate_alerts task per deployment among these executions that has an enabled rule
    (in tick order), sent now. Returns how many tasks were sent."""
    from ..tasks import evaluate_alerts_task

    if not alerts_any_ruled(execution_ids=execution_ids):
        return 0  # the usual run: no rule, one small query
    per_deployment = alerts_to_evaluate(execution_ids=execution_ids)
    for ids in per_deployment.values():
        evaluate_alerts_task.delay(ids)
    return len(per_deployment)


def _ids(raw: list[bytes]) -> list[int]:
    ids = []
    for item in raw:
        try:
            ids.append(int(item))
        except ValueError:
            log.warning("observability: ignoring %r in %s", item, QUEUE)
    return ids
