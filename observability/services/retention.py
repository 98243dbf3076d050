"""Retention: raw executions (and their logs) go after CHORUS_RAW_RETENTION_DAYS, rollups
after CHORUS_ROLLUP_RETENTION_DAYS. Lifetime totals are never deleted (they are counters)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from deployments.models import Execution, ExecutionLogLine

from ..models import AlertDelivery, HourlyRollup, Incident
from .rollups import rollup_recompute_range

log = logging.getLogger(__name__)

BATCH = 2000


@dataclass
class CleanupResult:
    executions: int = 0
    log_lines: int = 0
    rollups: int = 0
    incidents: int = 0


def retention_cleanup(*, now: dt.datetime | None = None, max_batches: int = 500) -> CleanupResult:
    """Delete what is past its retention, in small batches (short locks, no huge transaction).

    Before raw executions go, their hours are folded into the rollups once more, so a lost hook
    message never means a lost count.
    """
    now = now or timezone.now()
    result = CleanupResult()
    raw_days = settings.CHORUS_RAW_RETENTION_DAYS
    rollup_days = settings.CHORUS_ROLLUP_RETENTION_DAYS
    if raw_days > 0:
        raw_cutoff = now - dt.timedelta(days=raw_days)
        old = Execution.objects.filter(scheduled_for__lt=raw_cutoff, status__in=Execution.FINISHED)
        first = old.order_by("scheduled_for").values_list("scheduled_for", flat=True).first()
        if first is not None:
            rollup_recompute_range(start=first, end=raw_cutoff)
        for _ in range(max_batches):
            ids = list(old.order_by("scheduled_for").values_list("id", flat=True)[:BATCH])
            if not ids:
                break
            with transaction.atomic():
                # Log lines first with one plain DELETE; the ORM cascade would load them.
                result.log_lines += ExecutionLogLine.objects.filter(execution_id__in=ids).delete()[
                    0
                ]
                Execution.objects.filter(parent_id__in=ids).update(parent=None)
                result.executions += (
                    Execution.objects.filter(id__in=ids).delete()[1].get("deployments.Execution", 0)
                )
    if rollup_days > 0:
        cutoff = now - dt.timedelta(days=rollup_days)
        result.rollups = HourlyRollup.objects.filter(hour__lt=cutoff).delete()[0]
        closed = Incident.objects.filter(status=Incident.Status.CLOSED, closed_at__lt=cutoff)
        result.incidents = closed.delete()[1].get("observability.Incident", 0)
        AlertDelivery.objects.filter(incident__isnull=True, created_at__lt=cutoff).delete()
    if result.executions or result.rollups:
        log.info("observability retention: %s", result)
    return result
