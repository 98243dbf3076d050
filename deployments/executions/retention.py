"""Execution retention: the one place executions and their log lines are deleted.

Two policies choose what goes, one function deletes it:
- `executions_cleanup` (task chorus.execution.cleanup, hourly) applies each deployment's own
  policy: keep the last N successes, the last M other finished executions (failures,
  time-outs, cancels, skips, misses), and nothing older than D days;
- `executions_expire` (observability's chorus.observability.cleanup) deletes every finished
  execution older than CHORUS_RAW_RETENTION_DAYS.
`executions_delete` first folds the hours of what it deletes into the rollups once more (so a
lost hook message never means a lost count on the graphs or in the lifetime totals), then
deletes in small batches: log lines with one plain DELETE, then the executions.

Running and pending executions are never deleted.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from deployments.executions.snapshots import config_snapshots_prune
from deployments.models import Deployment, Execution, ExecutionLogLine
from observability.services.rollups import hour_floor, rollup_recompute_range

logger = logging.getLogger(__name__)

BATCH = 2000
HOUR = dt.timedelta(hours=1)


@dataclass
class Deleted:
    executions: int = 0
    log_lines: int = 0


def executions_delete(*, ids: list[int]) -> Deleted:
    """Delete these finished executions and their log lines, after folding them into rollups."""
    deleted = Deleted()
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        doomed = Execution.objects.filter(pk__in=chunk, status__in=Execution.FINISHED)
        span = doomed.aggregate(lo=Min("scheduled_for"), hi=Max("scheduled_for"))
        if span["lo"] is None:
            continue
        rollup_recompute_range(
            start=span["lo"],
            end=hour_floor(span["hi"]) + HOUR,
            deployment_ids=set(doomed.values_list("deployment_id", flat=True)),
        )
        with transaction.atomic():
            chunk = list(doomed.values_list("pk", flat=True))
            # Log lines first with one plain DELETE; the ORM cascade would load them.
            deleted.log_lines += ExecutionLogLine.objects.filter(execution_id__in=chunk).delete()[0]
            Execution.objects.filter(parent_id__in=chunk).update(parent=None)
            deleted.executions += (
                Execution.objects.filter(pk__in=chunk).delete()[1].get(Execution._meta.label, 0)
            )
    return deleted


def executions_cleanup(*, deployment: Deployment | None = None, now=None) -> int:
    """Apply each deployment's retention policy; returns how many executions were deleted."""
    now = now or timezone.now()
    deployments = [deployment] if deployment is not None else Deployment.objects.all()
    total = 0
    for d in deployments:
        finished = Execution.objects.filter(deployment_id=d.pk, status__in=Execution.FINISHED)
        order = ("-scheduled_for", "-attempt", "-id")
        ids = set(
            finished.filter(scheduled_for__lt=now - dt.timedelta(days=d.keep_days)).values_list(
                "pk", flat=True
            )
        )
        ids.update(
            finished.filter(status=Execution.Status.SUCCEEDED)
            .order_by(*order)
            .values_list("pk", flat=True)[d.keep_successes :]
        )
        ids.update(
            finished.filter(~Q(status=Execution.Status.SUCCEEDED))
            .order_by(*order)
            .values_list("pk", flat=True)[d.keep_failures :]
        )
        if ids:
            n = executions_delete(ids=sorted(ids)).executions
            total += n
            logger.info("retention: deleted %d execution(s) of deployment %s", n, d.pk)
        config_snapshots_prune(deployment=d)
    return total


def executions_expire(*, before: dt.datetime, max_batches: int = 500) -> Deleted:
    """Delete every finished execution scheduled before `before`, oldest first."""
    old = Execution.objects.filter(scheduled_for__lt=before, status__in=Execution.FINISHED)
    total = Deleted()
    for _ in range(max_batches):
        ids = list(old.order_by("scheduled_for").values_list("id", flat=True)[:BATCH])
        if not ids:
            break
        batch = executions_delete(ids=ids)
        total.executions += batch.executions
        total.log_lines += batch.log_lines
    return total
