"""Retention: raw executions (and their logs) go after CHORUS_RAW_RETENTION_DAYS, rollups
after CHORUS_ROLLUP_RETENTION_DAYS. Lifetime totals are never deleted (they are counters)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from deployments.executions.retention import executions_expire

from ..models import AlertDelivery, HourlyRollup, Incident

log = logging.getLogger(__name__)


@dataclass
class CleanupResult:
    executions: int = 0
    log_lines: int = 0
    rollups: int = 0
    incidents: int = 0


def retention_cleanup(*, now: dt.datetime | None = None, max_batches: int = 500) -> CleanupResult:
    """Delete what is past its retention, in small batches (short locks, no huge transaction).

    Raw executions go through deployments.executions.retention, which folds their hours into
    the rollups once more before deleting them.
    """
    now = now or timezone.now()
    result = CleanupResult()
    raw_days = settings.CHORUS_RAW_RETENTION_DAYS
    rollup_days = settings.CHORUS_ROLLUP_RETENTION_DAYS
    if raw_days > 0:
        expired = executions_expire(
            before=now - dt.timedelta(days=raw_days), max_batches=max_batches
        )
        result.executions, result.log_lines = expired.executions, expired.log_lines
    if rollup_days > 0:
        cutoff = now - dt.timedelta(days=rollup_days)
        result.rollups = HourlyRollup.objects.filter(hour__lt=cutoff).delete()[0]
        closed = Incident.objects.filter(status=Incident.Status.CLOSED, closed_at__lt=cutoff)
        result.incidents = closed.delete()[1].get("observability.Incident", 0)
        AlertDelivery.objects.filter(incident__isnull=True, created_at__lt=cutoff).delete()
    if result.executions or result.rollups:
        log.info("observability retention: %s", result)
    return result
