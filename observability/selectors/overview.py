"""The project overview: every deployed task at a glance.

Cost is bounded per deployment, not per execution: one grouped query over 7 days of hourly
rollups for the success rates, and one short index scan (deployment, -scheduled_for) per
deployment for the status strip and the last run.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db.models import Sum
from django.utils import timezone

from deployments.models import Deployment, Execution
from portal.models import Project

from ..models import HourlyRollup

log = logging.getLogger(__name__)

STRIP_TICKS = 30


@dataclass
class Slot:
    status: str
    scheduled_for: dt.datetime
    execution_id: int
    attempt: int
    finished_at: dt.datetime | None = None
    duration_seconds: float | None = None

    @property
    def title(self) -> str:
        when = self.scheduled_for.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        retry = f", attempt {self.attempt}" if self.attempt > 1 else ""
        return f"{when}: {self.status.replace('_', ' ')}{retry}"


@dataclass
class OverviewRow:
    deployment: Deployment
    schedule_words: str
    next_run: dt.datetime | None
    last: Slot | None
    succeeded_7d: int = 0
    failed_7d: int = 0
    missed_7d: int = 0
    strip: list[Slot] = field(default_factory=list)

    @property
    def runs_7d(self) -> int:
        return self.succeeded_7d + self.failed_7d

    @property
    def success_rate_7d(self) -> float | None:
        if not self.runs_7d:
            return None
        return round(100.0 * self.succeeded_7d / self.runs_7d, 1)


def schedule_words(expr: str) -> str:
    """The schedule in words (deployments.schedules), or as written when it cannot say."""
    try:
        from deployments.schedules import describe

        return describe(expr)
    except Exception:  # noqa: BLE001 - a display helper must never break the page
        return expr


def next_run(deployment: Deployment) -> dt.datetime | None:
    if not deployment.is_active:
        return None
    try:
        from deployments.schedules import next_runs

        runs = next_runs(deployment.schedule, deployment.timezone, n=1)
        return runs[0].at_utc if runs else None
    except Exception:  # noqa: BLE001 - as above
        return None


def recent_ticks(deployment_id: int, n: int = STRIP_TICKS) -> list[Slot]:
    """The latest n ticks, oldest first, each with the status of its latest attempt."""
    rows = (
        Execution.objects.filter(deployment_id=deployment_id)
        .order_by("-scheduled_for", "-attempt")
        .values_list("id", "scheduled_for", "status", "attempt", "finished_at", "duration_seconds")[
            : n * 2
        ]
    )
    ticks: dict[dt.datetime, Slot] = {}
    for pk, when, status, attempt, finished, took in rows:
        if when not in ticks:
            ticks[when] = Slot(status, when, pk, attempt, finished, took)
        if len(ticks) >= n:
            break
    return list(reversed(ticks.values()))


def project_overview(*, project: Project, now: dt.datetime | None = None) -> list[OverviewRow]:
    """Callers check membership first (portal.selectors); this only reads."""
    now = now or timezone.now()
    deployments = list(
        Deployment.objects.filter(component__project=project)
        .select_related("component", "environment", "build")
        .order_by("component__name", "environment__order")
    )
    if not deployments:
        return []
    since = now - dt.timedelta(days=7)
    sums = {
        r["deployment_id"]: r
        for r in HourlyRollup.objects.filter(
            deployment_id__in=[d.pk for d in deployments], hour__gte=since
        )
        .values("deployment_id")
        .annotate(
            s=Sum("succeeded"),
            f=Sum("failed"),
            t=Sum("timed_out"),
            m=Sum("missed"),
        )
        .order_by()
    }
    rows: list[OverviewRow] = []
    for d in deployments:
        strip = recent_ticks(d.pk)
        last = next((s for s in reversed(strip) if s.status != "pending"), None)
        agg = sums.get(d.pk, {})
        rows.append(
            OverviewRow(
                deployment=d,
                schedule_words=schedule_words(d.schedule),
                next_run=next_run(d),
                last=last,
                succeeded_7d=agg.get("s") or 0,
                failed_7d=(agg.get("f") or 0) + (agg.get("t") or 0),
                missed_7d=agg.get("m") or 0,
                strip=strip,
            )
        )
    return rows
