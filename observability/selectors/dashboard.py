"""The component dashboard: per-bucket numbers for one deployment, read from hourly rollups.

A 30-day view sums at most 720 rollup rows, however many executions ran, and PostgreSQL sums
them per bucket (_BUCKET_SQL): the page receives one row per bucket.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from deployments.models import Deployment

from .. import histograms
from ..models import STATUS_FIELDS, HourlyRollup

UTC = dt.UTC
HOUR = dt.timedelta(hours=1)
RANGES = {
    "24h": (dt.timedelta(hours=24), HOUR),
    "7d": (dt.timedelta(days=7), dt.timedelta(hours=6)),
    "30d": (dt.timedelta(days=30), dt.timedelta(days=1)),
}
MAX_SPAN = dt.timedelta(days=800)


@dataclass
class TimeRange:
    key: str  # 24h / 7d / 30d / custom
    start: dt.datetime
    end: dt.datetime
    bucket: dt.timedelta

    @property
    def is_live(self) -> bool:
        """Relative ranges move with the clock, so the page keeps refreshing them."""
        return self.key != "custom"


@dataclass
class Bucket:
    start: dt.datetime
    end: dt.datetime
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUS_FIELDS, 0))
    duration_hist: list[int] = field(
        default_factory=lambda: histograms.empty(histograms.DURATION_BOUNDS)
    )
    lag_hist: list[int] = field(default_factory=lambda: histograms.empty(histograms.LAG_BOUNDS))
    duration_max: float = 0.0
    lag_max: float = 0.0
    lag_sum: float = 0.0
    lag_count: int = 0

    @property
    def failures(self) -> int:
        return self.counts["failed"] + self.counts["timed_out"]

    @property
    def runs(self) -> int:
        return self.counts["succeeded"] + self.counts["partial"] + self.failures

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def success_rate(self) -> float | None:
        return round(100.0 * self.counts["succeeded"] / self.runs, 1) if self.runs else None

    def duration_q(self, q: float) -> float | None:
        return histograms.quantile(
            self.duration_hist, histograms.DURATION_BOUNDS, q, vmax=self.duration_max
        )

    def lag_q(self, q: float) -> float | None:
        return histograms.quantile(self.lag_hist, histograms.LAG_BOUNDS, q, vmax=self.lag_max)

    # The table, the stat cards and the chart all show these: each is computed once, when the
    # page first reads it (after dashboard_for has folded the bucket).
    @cached_property
    def duration_p50(self) -> float | None:
        return self.duration_q(0.5)

    @cached_property
    def duration_p95(self) -> float | None:
        return self.duration_q(0.95)

    @cached_property
    def lag_p50(self) -> float | None:
        return self.lag_q(0.5)

    @cached_property
    def lag_p95(self) -> float | None:
        return self.lag_q(0.95)

    def label(self, bucket: dt.timedelta) -> str:
        if bucket >= dt.timedelta(days=1):
            return self.start.strftime("%b %d")
        return self.start.strftime("%b %d %H:%M")


@dataclass
class Dashboard:
    range: TimeRange
    buckets: list[Bucket]
    total: Bucket


def _aware(value: dt.datetime) -> dt.datetime:
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


def parse_point(text: str, *, end: bool) -> dt.datetime:
    text = (text or "").strip()
    try:
        day = parse_date(text) if len(text) == 10 else None
        parsed = None if day else parse_datetime(text)
    except ValueError:
        day = parsed = None
    if day is not None:
        parsed = dt.datetime.combine(day, dt.time(), UTC)
        if end:  # an end date includes that whole day
            parsed += dt.timedelta(days=1)
    if parsed is None:
        raise ValidationError(f"“{text}” is not a date. Use YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC).")
    return _aware(parsed).astimezone(UTC)


def _floor_hour(t: dt.datetime) -> dt.datetime:
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def parse_range(
    key: str | None, start: str | None = None, end: str | None = None, now=None
) -> TimeRange:
    """24h / 7d / 30d ending now (hour-aligned), or a custom [from, to) with a fitting bucket."""
    now = now or timezone.now()
    if key != "custom" or not start:
        key = key if key in RANGES else "24h"
        span, bucket = RANGES[key]
        stop = _floor_hour(now) + HOUR
        return TimeRange(key, stop - span, stop, bucket)
    lo = _floor_hour(parse_point(start, end=False))
    hi = parse_point(end, end=True) if end else now
    if hi.minute or hi.second or hi.microsecond:
        hi = _floor_hour(hi) + HOUR
    if hi <= lo:
        raise ValidationError("The end of the range must be after its start.")
    if hi - lo > MAX_SPAN:
        raise ValidationError("Choose a range of at most 800 days.")
    span = hi - lo
    if span <= dt.timedelta(hours=48):
        bucket = HOUR
    elif span <= dt.timedelta(days=14):
        bucket = dt.timedelta(hours=6)
    elif span <= dt.timedelta(days=120):
        bucket = dt.timedelta(days=1)
    else:
        bucket = dt.timedelta(days=7)
    return TimeRange("custom", lo, hi, bucket)


def dashboard_for(*, deployment: Deployment, time_range: TimeRange) -> Dashboard:
    """Callers check membership first; this only reads."""
    r = time_range
    buckets: list[Bucket] = []
    t = r.start
    while t < r.end:
        buckets.append(Bucket(t, min(t + r.bucket, r.end)))
        t += r.bucket
    total = Bucket(r.start, r.end)
    with connection.cursor() as cursor:
        cursor.execute(
            _BUCKET_SQL,
            {
                "deployment": deployment.pk,
                "start": r.start,
                "end": r.end,
                "step": r.bucket.total_seconds(),
            },
        )
        rows = cursor.fetchall()
    for row in rows:
        i = row[0]
        if not 0 <= i < len(buckets):
            continue
        _add(buckets[i], _bucket_row(row))
    for b in buckets:  # the total folds 30-ish buckets, not every hourly row again
        _add(
            total,
            (
                b.start,
                *b.counts.values(),
                b.duration_hist,
                b.lag_hist,
                b.duration_max,
                b.lag_max,
                b.lag_sum,
                b.lag_count,
            ),
        )
    return Dashboard(r, buckets, total)


def _hist_sums(column: str, bins: int) -> list[str]:
    """Element-wise sums of a JSON histogram column, one SQL expression per bin.

    A row stored with other bounds (see histograms.normalize) adds its extra bins to the
    last one, and a shorter row adds nothing to the bins it lacks.
    """
    sums = [f"SUM(({column} ->> {i})::int)" for i in range(bins - 1)]
    last = bins - 1
    sums.append(
        f"SUM(CASE WHEN jsonb_typeof({column}) <> 'array' THEN NULL"
        f" WHEN jsonb_array_length({column}) <= {bins} THEN ({column} ->> {last})::int"
        f" ELSE (SELECT SUM(v::int)::int FROM jsonb_array_elements_text({column})"
        f" WITH ORDINALITY AS e(v, k) WHERE k > {last}) END)"
    )
    return sums


_DURATION_BINS = len(histograms.empty(histograms.DURATION_BOUNDS))
_LAG_BINS = len(histograms.empty(histograms.LAG_BOUNDS))
# The rows of a 30-day view are summed per bucket by PostgreSQL: 720 hourly rows (each with
# two JSON histograms to decode and merge) become 30, and the page's own process does the
# least work.
_BUCKET_SQL = f"""
SELECT floor(extract(epoch FROM hour - %(start)s) / %(step)s)::int AS bucket,
    {", ".join(f"SUM({f})" for f in STATUS_FIELDS)},
    {", ".join(_hist_sums("duration_hist", _DURATION_BINS))},
    {", ".join(_hist_sums("lag_hist", _LAG_BINS))},
    MAX(duration_max), MAX(lag_max), SUM(lag_sum), SUM(lag_count)
FROM {HourlyRollup._meta.db_table}
WHERE deployment_id = %(deployment)s AND hour >= %(start)s AND hour < %(end)s
GROUP BY 1
"""


def _bucket_row(row: tuple) -> tuple:
    """A row of _BUCKET_SQL in the shape _add folds (sums over no value are NULL)."""
    n = len(STATUS_FIELDS)
    d = n + 1 + _DURATION_BINS
    lag = d + _LAG_BINS
    return (
        None,
        *(v or 0 for v in row[1 : n + 1]),
        [v or 0 for v in row[n + 1 : d]],
        [v or 0 for v in row[d:lag]],
        *row[lag:],
    )


def _add(b: Bucket, row: tuple) -> None:
    n = len(STATUS_FIELDS)
    counts = b.counts
    for k, f in enumerate(STATUS_FIELDS, start=1):
        counts[f] += row[k]
    dh, lh, dmax, lmax, lsum, lcount = row[n + 1 :]
    if any(dh):
        b.duration_hist = _merged(b.duration_hist, dh)
    if any(lh):
        b.lag_hist = _merged(b.lag_hist, lh)
    b.duration_max = max(b.duration_max, dmax or 0)
    b.lag_max = max(b.lag_max, lmax or 0)
    b.lag_sum += lsum or 0
    b.lag_count += lcount or 0


def _merged(target: list[int], hist: list[int]) -> list[int]:
    return [a + b for a, b in zip(target, hist, strict=True)]
