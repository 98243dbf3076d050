"""History retention per deployment: keep the last N successes, the last M other finished
executions (failures, time-outs, cancels, skips, misses), and nothing older than D days.

Running and pending executions are never deleted. Log lines go with their execution.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from deployments.executions.snapshots import config_snapshots_prune
from deployments.models import Deployment, Execution

logger = logging.getLogger(__name__)

BATCH = 2000


def _delete(ids: list[int]) -> int:
    deleted = 0
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        deleted += Execution.objects.filter(pk__in=chunk).delete()[1].get(Execution._meta.label, 0)
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
            finished.filter(scheduled_for__lt=now - timedelta(days=d.keep_days)).values_list(
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
            n = _delete(sorted(ids))
            total += n
            logger.info("retention: deleted %d execution(s) of deployment %s", n, d.pk)
        config_snapshots_prune(deployment=d)
    return total
