"""Hourly rollups of executions: built from raw rows, idempotent, never shrinking.

Every write path (the hook's batches of finished executions, the periodic recompute of recent
hours, a full rebuild) does the same thing for a set of (deployment, hour) keys:

1. aggregate the raw finished executions of those hours in SQL (counts per status,
   conditional counts for the histogram buckets - one indexed range scan);
2. join the result with the stored row, field by field, taking the larger value.

The join makes every path idempotent (a redelivered hook message changes nothing) and
order-independent (two workers racing on the same hour end with the same row), and it keeps
history when raw rows were pruned (a rollup never counts fewer runs than it once did). The
increase of each row is added to DeploymentTotals under the same row lock, so the lifetime
counters behind /metrics are exact and monotonic.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from deployments.models import Execution

from .. import histograms
from ..models import STATUS_FIELDS, DeploymentTotals, HourlyRollup

log = logging.getLogger(__name__)

UTC = dt.UTC
HOUR = dt.timedelta(hours=1)
COUNT_FIELDS = (*STATUS_FIELDS, "duration_count", "lag_count")
SUM_FIELDS = ("duration_sum", "lag_sum")
MAX_FIELDS = ("duration_max", "lag_max")
HIST_FIELDS = {"duration_hist": histograms.DURATION_BOUNDS, "lag_hist": histograms.LAG_BOUNDS}

Key = tuple[int, dt.datetime]


def hour_floor(value: dt.datetime) -> dt.datetime:
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _aggregates() -> dict:
    aggs: dict = {f: Count("id", filter=Q(status=f)) for f in STATUS_FIELDS}
    aggs |= {
        "duration_count": Count("duration_seconds"),
        "duration_sum": Sum("duration_seconds"),
        "duration_max": Max("duration_seconds"),
        "lag_count": Count("fire_lag_seconds"),
        "lag_sum": Sum("fire_lag_seconds"),
        "lag_max": Max("fire_lag_seconds"),
    }
    # Cumulative "<= bound" counts, turned into per-bucket counts below.
    for i, b in enumerate(histograms.DURATION_BOUNDS):
        aggs[f"d_le_{i}"] = Count("id", filter=Q(duration_seconds__lte=b))
    for i, b in enumerate(histograms.LAG_BOUNDS):
        aggs[f"l_le_{i}"] = Count("id", filter=Q(fire_lag_seconds__lte=b))
    return aggs


def _hist_from_cumulative(row: dict, prefix: str, bounds, total: int) -> list[int]:
    cum = [row[f"{prefix}_le_{i}"] for i in range(len(bounds))] + [total]
    return [cum[0]] + [cum[i] - cum[i - 1] for i in range(1, len(cum))]


def aggregate_raw(executions) -> dict[Key, dict]:
    """Rollup fields per (deployment_id, hour) for a queryset of executions."""
    rows = (
        executions.filter(status__in=Execution.FINISHED)
        .annotate(hour=TruncHour("scheduled_for", tzinfo=UTC))
        .values("deployment_id", "hour")
        .annotate(**_aggregates())
        .order_by()
    )
    out: dict[Key, dict] = {}
    for r in rows:
        fields = {f: r[f] or 0 for f in (*COUNT_FIELDS, *SUM_FIELDS, *MAX_FIELDS)}
        fields["duration_hist"] = _hist_from_cumulative(
            r, "d", histograms.DURATION_BOUNDS, r["duration_count"]
        )
        fields["lag_hist"] = _hist_from_cumulative(r, "l", histograms.LAG_BOUNDS, r["lag_count"])
        out[(r["deployment_id"], hour_floor(r["hour"]))] = fields
    return out


def _join(row, fresh: dict) -> dict:
    """Field-wise maximum of the stored row and a fresh aggregate."""
    joined: dict = {}
    for f in (*COUNT_FIELDS, *MAX_FIELDS):
        joined[f] = max(getattr(row, f) or 0, fresh[f])
    for f in SUM_FIELDS:
        # Float sums differ in their last bits with the order PostgreSQL adds rows in.
        old = getattr(row, f) or 0.0
        joined[f] = fresh[f] if fresh[f] > old + 1e-6 * max(1.0, abs(old)) else old
    for f, bounds in HIST_FIELDS.items():
        old = histograms.normalize(getattr(row, f), bounds)
        joined[f] = [max(a, b) for a, b in zip(old, fresh[f], strict=True)]
    return joined


def _delta(row, joined: dict) -> dict | None:
    d: dict = {}
    changed = False
    for f in (*COUNT_FIELDS, *SUM_FIELDS):
        d[f] = joined[f] - (getattr(row, f) or 0)
        changed |= d[f] != 0
    for f in MAX_FIELDS:
        d[f] = joined[f]
        changed |= joined[f] != (getattr(row, f) or 0)
    for f, bounds in HIST_FIELDS.items():
        old = histograms.normalize(getattr(row, f), bounds)
        d[f] = [a - b for a, b in zip(joined[f], old, strict=True)]
        changed |= any(d[f])
    return d if changed else None


def _apply(fresh: dict[Key, dict]) -> int:
    """Join fresh aggregates into stored rows and totals; the caller holds a transaction."""
    if not fresh:
        return 0
    keys = sorted(fresh)
    # Make sure every row exists before locking, so racing workers lock the same rows.
    _insert_empty(keys)
    deployment_ids = sorted({d for d, _ in keys})
    hours = sorted({h for _, h in keys})
    locked = (
        HourlyRollup.objects.select_for_update()
        .filter(deployment_id__in=deployment_ids, hour__gte=hours[0], hour__lte=hours[-1])
        .order_by("deployment_id", "hour")
    )
    rows = {(r.deployment_id, r.hour.astimezone(UTC)): r for r in locked}
    deltas: dict[int, list[dict]] = {}
    to_update = []
    for key in keys:
        row = rows[key]
        joined = _join(row, fresh[key])
        delta = _delta(row, joined)
        if delta is None:
            continue
        for f, v in joined.items():
            setattr(row, f, v)
        row.updated_at = timezone.now()  # bulk_update does not apply auto_now
        to_update.append(row)
        deltas.setdefault(key[0], []).append(delta)
    if to_update:
        _write(HourlyRollup, to_update)
        _add_to_totals(deltas)
    return len(to_update)


def _insert_empty(keys: list[Key]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING an all-zero row per key (PostgreSQL and SQLite)."""
    model = HourlyRollup
    names = ("deployment", "hour", *COUNT_FIELDS, *SUM_FIELDS, *MAX_FIELDS, *HIST_FIELDS)
    fields = [model._meta.get_field(f) for f in (*names, "updated_at")]
    template = HourlyRollup(deployment_id=0, hour=timezone.now(), updated_at=timezone.now())
    prepared = [f.get_db_prep_save(getattr(template, f.attname), connection) for f in fields]
    hour = model._meta.get_field("hour")
    rows = [[d, hour.get_db_prep_save(h, connection), *prepared[2:]] for d, h in keys]
    qn = connection.ops.quote_name
    sql = (
        f"INSERT INTO {qn(model._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({qn('deployment_id')}, {qn('hour')}) DO NOTHING"
    )
    with connection.cursor() as cur:
        cur.executemany(sql, rows)


def _write(model, objs: list) -> None:
    """UPDATE the rollup fields of many rows: one prepared UPDATE per row via executemany.

    Django's bulk_update builds CASE WHEN expressions whose cost grows with rows x fields:
    minutes instead of seconds for a 30-day rebuild of many deployments.
    """
    fields = [
        model._meta.get_field(f)
        for f in (*COUNT_FIELDS, *SUM_FIELDS, *MAX_FIELDS, *HIST_FIELDS, "updated_at")
    ]
    qn = connection.ops.quote_name
    sql = (
        f"UPDATE {qn(model._meta.db_table)} SET "
        + ", ".join(f"{qn(f.column)} = %s" for f in fields)
        + f" WHERE {qn(model._meta.pk.column)} = %s"
    )
    rows = [
        [f.get_db_prep_save(getattr(o, f.attname), connection) for f in fields] + [o.pk]
        for o in objs
    ]
    with connection.cursor() as cur:
        cur.executemany(sql, rows)


def _add_to_totals(deltas: dict[int, list[dict]]) -> None:
    ids = sorted(deltas)
    DeploymentTotals.objects.bulk_create(
        [DeploymentTotals(deployment_id=i) for i in ids], ignore_conflicts=True
    )
    totals = DeploymentTotals.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    changed = []
    for t in totals:
        for d in deltas[t.pk]:
            for f in (*COUNT_FIELDS, *SUM_FIELDS):
                setattr(t, f, (getattr(t, f) or 0) + d[f])
            for f in MAX_FIELDS:
                setattr(t, f, max(getattr(t, f) or 0, d[f]))
            for f, bounds in HIST_FIELDS.items():
                old = histograms.normalize(getattr(t, f), bounds)
                setattr(t, f, [a + b for a, b in zip(old, d[f], strict=True)])
        t.updated_at = timezone.now()
        changed.append(t)
    _write(DeploymentTotals, changed)


@transaction.atomic
def rollup_fold_executions(*, execution_ids: Iterable[int]) -> int:
    """Bring the rollups of just-finished executions' hours up to date. Returns rows changed.

    A batch costs about the same handful of queries as one execution: one lookup of the ids,
    one aggregate over exactly the (deployment, hour) pairs they touch, one join into the
    stored rows. Ids of executions not (or no longer) finished are skipped: their own hook
    comes when they finish, and a deleted row has nothing to count.
    """
    ids = sorted({int(i) for i in execution_ids})
    if not ids:
        return 0
    pairs = (
        Execution.objects.filter(pk__in=ids, status__in=Execution.FINISHED)
        .values_list("deployment_id", "scheduled_for")
        .order_by()
    )
    by_hour: dict[dt.datetime, set[int]] = {}
    for deployment_id, scheduled_for in pairs:
        by_hour.setdefault(hour_floor(scheduled_for), set()).add(deployment_id)
    if not by_hour:
        return 0
    window = Q()
    for h, deployment_ids in by_hour.items():
        window |= Q(
            scheduled_for__gte=h, scheduled_for__lt=h + HOUR, deployment_id__in=deployment_ids
        )
    return _apply(aggregate_raw(Execution.objects.filter(window)))


@transaction.atomic
def rollup_recompute_range(
    *, start: dt.datetime, end: dt.datetime | None = None, deployment_ids=None
) -> int:
    """Recompute every hour in [start, end) for all (or some) deployments: one grouped query.

    Used by the periodic task for recent hours and by `manage.py rollups_rebuild`.
    """
    qs = Execution.objects.filter(scheduled_for__gte=hour_floor(start))
    if end is not None:
        qs = qs.filter(scheduled_for__lt=end)
    if deployment_ids is not None:
        qs = qs.filter(deployment_id__in=list(deployment_ids))
    return _apply(aggregate_raw(qs))


def rollup_recompute_recent(*, hours: int = 3) -> int:
    """The periodic repair: recompute the last `hours` hours (covers lost hook messages)."""
    start = hour_floor(timezone.now()) - (hours - 1) * HOUR
    changed = rollup_recompute_range(start=start)
    if changed:
        log.info("observability: recompute of the last %s h changed %s rollups", hours, changed)
    return changed
