"""The project overview: every deployed task at a glance.

Cost is bounded per deployment, not per execution: one grouped query over 7 days of hourly
rollups for the success rates, and one short index scan (deployment, -scheduled_for) per
deployment for the status strip and the last run. The rows are plain values, not model
instances, and the strip's times come from the database as text: fifty deployments make 2,000
executions per render, and parsing their timestamps alone cost more than drawing the table.
What depends only on a schedule (its words, its next ticks) is remembered per schedule.
The HTML is drawn by observability.templatetags.obs.obs_overview_rows.
"""

from __future__ import annotations

import datetime as dt
import logging
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice

from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from components.models import Component
from deployments.models import Deployment, Execution
from portal.models import Project

from ..models import HourlyRollup

log = logging.getLogger(__name__)

STRIP_TICKS = 30


@dataclass(slots=True)
class Slot:
    """One tick of a deployment: the status of its latest attempt."""

    status: str
    # When the tick was scheduled, in UTC as the database writes it ("2026-03-01 04:05:00.000000"):
    # the strip's titles need only this text, and parsing thousands of timestamps per render
    # would cost more than the rest of the table.
    when: str
    execution_id: int
    attempt: int

    @property
    def scheduled_for(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.when).replace(tzinfo=dt.UTC)


@dataclass(slots=True)
class OverviewRow:
    """One deployment as the overview shows it: plain values, no model instances."""

    deployment_id: int
    component_name: str
    environment_slug: str
    environment_name: str
    is_active: bool
    schedule: str
    timezone: str
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


@lru_cache(maxsize=4096)
def _seed(schedule: str, project_slug: str, component_name: str, environment_slug: str) -> str:
    """The seed that matters to a schedule (Deployment.schedule_seed) only when it has an `H`."""
    from deployments.schedules.parsing import schedule_seed, uses_spread

    if not uses_spread(schedule):
        return ""
    return schedule_seed(project_slug, component_name, environment_slug)


@lru_cache(maxsize=2048)
def schedule_words(expr: str, seed: str = "") -> str:
    """The schedule in words (deployments.schedules), or as written when it cannot say."""
    try:
        return _parsed(expr, seed).describe()
    except Exception:  # noqa: BLE001 - a display helper must never break the page
        return expr


# The next few ticks per (schedule, seed, timezone, DST rule), until the last has passed: a
# schedule that fires every minute is worked out again every few minutes, not on every render.
_next_cache: dict[tuple[str, str, str, str], list[dt.datetime]] = {}
_NEXT_AHEAD = 8


def next_run(
    schedule: str, seed: str, zone: str, dst_rule: str, now: dt.datetime
) -> dt.datetime | None:
    """The next tick after `now` of an active deployment's schedule (`seed` as _seed gives it),
    as the scheduler computes it (Schedule.iter_after, like the schedule preview)."""
    key = (schedule, seed, zone, dst_rule)
    ahead = _next_cache.get(key)  # never changed in place: threads may share it
    if ahead and ahead[-1] > now:
        return ahead[bisect_right(ahead, now)]
    try:
        from deployments.schedules.timezones import get_zone

        ticks = list(
            islice(_parsed(schedule, seed, dst_rule).iter_after(now, get_zone(zone)), _NEXT_AHEAD)
        )
    except Exception:  # noqa: BLE001 - as above
        return None
    if not ticks:
        return None
    if len(_next_cache) > 4096:
        _next_cache.clear()
    _next_cache[key] = ticks
    return ticks[0]


# The tick's time as text, exactly (microseconds), in UTC: see Slot.when.
_WHEN_SQL = "to_char(e.scheduled_for AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"


def _latest_rows(deployment_ids: list[int], depth: int) -> dict[int, list[tuple]]:
    """The newest `depth` executions of each deployment, newest first, as (id, when, status,
    attempt) with `when` as in Slot.

    PostgreSQL: one LATERAL query, an index scan of (deployment_id, scheduled_for DESC) per
    deployment in a single round trip. Elsewhere: one small query per deployment.
    """
    out: dict[int, list[tuple]] = {d: [] for d in deployment_ids}
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(
                f"""
                SELECT d.id, e.id, {_WHEN_SQL}, e.status, e.attempt
                FROM unnest(%s::bigint[]) AS d(id)
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
        out[d] = [
            (pk, when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f"), status, attempt)
            for pk, when, status, attempt in Execution.objects.filter(deployment_id=d)
            .order_by("-scheduled_for", "-attempt")
            .values_list("id", "scheduled_for", "status", "attempt")[:depth]
        ]
    return out


def _ticks(rows: list[tuple], n: int = STRIP_TICKS) -> list[Slot]:
    """The latest n ticks, oldest first, each with the status of its latest attempt."""
    ticks: dict[str, Slot] = {}
    for pk, when, status, attempt in rows:
        if when not in ticks:
            ticks[when] = Slot(status, when, pk, attempt)
            if len(ticks) >= n:
                break
    return list(reversed(ticks.values()))


def project_shape(*, project: Project) -> tuple:
    """How many components and deployments the project has and when each last changed: what
    the overview's cache key carries (observability.views.overview). Asked on every request,
    so written out: compiling it through the ORM cost several times what running it does."""
    with connection.cursor() as cur:
        cur.execute(
            f"""
            SELECT COUNT(DISTINCT c.id), MAX(c.updated_at), COUNT(d.id), MAX(d.updated_at)
            FROM {Component._meta.db_table} c
            LEFT JOIN {Deployment._meta.db_table} d ON d.component_id = c.id
            WHERE c.project_id = %s
            """,
            [project.pk],
        )
        return tuple(cur.fetchone())


def project_overview(*, project: Project, now: dt.datetime | None = None) -> list[OverviewRow]:
    """Callers check membership first (portal.selectors); this only reads."""
    now = now or timezone.now()
    deployments = list(
        Deployment.objects.filter(component__project=project)
        .exclude(status=Deployment.Status.UNDEPLOYED)
        .order_by("component__name", "environment__order")
        .values_list(
            "id",
            "component__name",
            "environment__slug",
            "environment__name",
            "status",
            "schedule",
            "timezone",
            "dst_rule",
        )
    )
    if not deployments:
        return []
    ids = [d[0] for d in deployments]
    since = now - dt.timedelta(days=7)
    sums = {
        r["deployment_id"]: r
        for r in HourlyRollup.objects.filter(
            deployment__component__project_id=project.pk, hour__gte=since
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
    latest = _latest_rows(ids, STRIP_TICKS + 10)
    active = Deployment.Status.ACTIVE
    for pk, name, env_slug, env_name, status, schedule, zone, dst_rule in deployments:
        strip = _ticks(latest[pk])
        last = next((s for s in reversed(strip) if s.status != "pending"), None)
        agg = sums.get(pk, {})
        seed = _seed(schedule, project.slug, name, env_slug)
        is_active = status == active
        rows.append(
            OverviewRow(
                deployment_id=pk,
                component_name=name,
                environment_slug=env_slug,
                environment_name=env_name,
                is_active=is_active,
                schedule=schedule,
                timezone=zone,
                schedule_words=schedule_words(schedule, seed),
                next_run=next_run(schedule, seed, zone, dst_rule, now) if is_active else None,
                last=last,
                succeeded_7d=agg.get("s") or 0,
                failed_7d=(agg.get("f") or 0) + (agg.get("t") or 0),
                missed_7d=agg.get("m") or 0,
                strip=strip,
            )
        )
    return rows
