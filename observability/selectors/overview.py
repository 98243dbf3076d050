"""The project overview: every deployed task at a glance.

Cost is bounded per deployment, not per execution: one grouped query over 7 days of hourly
rollups for the success rates, and one short index scan (deployment, -scheduled_for) per
deployment for the status strip and the last run.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from functools import lru_cache

from django.db import connection
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


@lru_cache(maxsize=2048)
def _parsed(expr: str, seed: str = "", dst: str = "cron"):
    # Parsing validates with croniter (a few ms); schedules are few and immutable strings.
    from deployments.schedules.parsing import parse_schedule

    return parse_schedule(expr, seed, dst=dst)


def _seed(deployment) -> str:
    from deployments.schedules.parsing import uses_spread

    return deployment.schedule_seed if uses_spread(deployment.schedule) else ""


@lru_cache(maxsize=2048)
def schedule_words(expr: str, seed: str = "") -> str:
    """The schedule in words (deployments.schedules), or as written when it cannot say."""
    try:
        return _parsed(expr, seed).describe()
    except Exception:  # noqa: BLE001 - a display helper must never break the page
        return expr


_next_cache: dict[tuple[str, str], dt.datetime] = {}


def next_run(deployment: Deployment, now: dt.datetime | None = None) -> dt.datetime | None:
    """The next tick; remembered per (schedule, timezone) until that tick has passed."""
    if not deployment.is_active:
        return None
    now = now or timezone.now()
    key = (deployment.schedule, _seed(deployment), deployment.timezone, deployment.dst_rule)
    cached = _next_cache.get(key)
    if cached is not None and cached > now:
        return cached
    try:
        from deployments.schedules.preview import next_runs

        runs = next_runs(
            _parsed(deployment.schedule, key[1], key[3]), deployment.timezone, n=1, start=now
        )
    except Exception:  # noqa: BLE001 - as above
        return None
    if not runs:
        return None
    if len(_next_cache) > 4096:
        _next_cache.clear()
    _next_cache[key] = runs[0].at_utc
    return runs[0].at_utc


_COLUMNS = ("id", "scheduled_for", "status", "attempt")


def _latest_rows(deployment_ids: list[int], depth: int) -> dict[int, list[tuple]]:
    """The newest `depth` executions of each deployment, newest first.

    PostgreSQL: one LATERAL query, an index scan of (deployment_id, scheduled_for DESC) per
    deployment in a single round trip. Elsewhere: one small query per deployment.
    """
    out: dict[int, list[tuple]] = {d: [] for d in deployment_ids}
    if connection.vendor == "postgresql":
        cols = ", ".join(f"e.{c}" for c in _COLUMNS)
        with connection.cursor() as cur:
            cur.execute(
                f"""
                SELECT d.id, {cols} FROM unnest(%s::bigint[]) AS d(id)
                CROSS JOIN LATERAL (
                    SELECT * FROM deployments_execution e
                    WHERE e.deployment_id = d.id
                    ORDER BY e.scheduled_for DESC, e.attempt DESC
                    LIMIT %s
                ) AS e
                """,
                [deployment_ids, depth],
            )
            for row in cur.fetchall():
                out[row[0]].append(row[1:])
        return out
    for d in deployment_ids:
        out[d] = list(
            Execution.objects.filter(deployment_id=d)
            .order_by("-scheduled_for", "-attempt")
            .values_list(*_COLUMNS)[:depth]
        )
    return out


def _ticks(rows: list[tuple], n: int = STRIP_TICKS) -> list[Slot]:
    """The latest n ticks, oldest first, each with the status of its latest attempt."""
    ticks: dict[dt.datetime, Slot] = {}
    for pk, when, status, attempt in rows:
        if when not in ticks:
            ticks[when] = Slot(status, when, pk, attempt)
        if len(ticks) >= n:
            break
    return list(reversed(ticks.values()))


def project_overview(*, project: Project, now: dt.datetime | None = None) -> list[OverviewRow]:
    """Callers check membership first (portal.selectors); this only reads."""
    now = now or timezone.now()
    deployments = list(
        Deployment.objects.filter(component__project=project)
        .exclude(status=Deployment.Status.UNDEPLOYED)
        .select_related("component__project", "environment", "build")
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
    # A few rows beyond one per tick leave room for retries of the latest ticks.
    latest = _latest_rows([d.pk for d in deployments], STRIP_TICKS + 10)
    for d in deployments:
        strip = _ticks(latest[d.pk])
        last = next((s for s in reversed(strip) if s.status != "pending"), None)
        agg = sums.get(d.pk, {})
        rows.append(
            OverviewRow(
                deployment=d,
                schedule_words=schedule_words(d.schedule, _seed(d)),
                next_run=next_run(d, now),
                last=last,
                succeeded_7d=agg.get("s") or 0,
                failed_7d=(agg.get("f") or 0) + (agg.get("t") or 0),
                missed_7d=agg.get("m") or 0,
                strip=strip,
            )
        )
    return rows
