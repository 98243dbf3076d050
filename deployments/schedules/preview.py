"""The next-runs preview, with a note on each tick a DST change moves or repeats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from croniter import croniter
from django.utils.timezone import now as _now

from deployments.schedules.parsing import parse_schedule
from deployments.schedules.schedule import Schedule, require_aware
from deployments.schedules.timezones import get_zone


@dataclass(frozen=True)
class NextRun:
    at_local: datetime
    at_utc: datetime
    # Empty unless the tick is affected by a DST change (gap or repeated hour).
    dst_note: str = ""

    @property
    def dst_kind(self) -> str:
        if not self.dst_note:
            return ""
        return "gap" if "does not exist" in self.dst_note else "repeat"


def next_runs(
    expr: str | Schedule, tz: str | tzinfo = "UTC", n: int = 5, start: datetime | None = None
) -> list[NextRun]:
    """The next `n` ticks after `start` (default: now) in `tz` and UTC, with DST notes."""
    schedule = expr if isinstance(expr, Schedule) else parse_schedule(expr)
    zone = get_zone(tz)
    t = start or _now()
    require_aware(t)
    out: list[NextRun] = []
    if schedule.is_interval:
        for _ in range(n):
            t = schedule.next_after(t)
            out.append(NextRun(at_local=t.astimezone(zone), at_utc=t))
        return out
    it = croniter(schedule.cron, t.astimezone(zone))
    for _ in range(n):
        local = it.get_next(datetime)
        out.append(
            NextRun(
                at_local=local,
                at_utc=local.astimezone(UTC),
                dst_note=_dst_note(schedule.cron, local, zone),
            )
        )
    return out


def _fmt_offset(dt: datetime) -> str:
    off = dt.utcoffset() or timedelta(0)
    sign = "+" if off >= timedelta(0) else "-"
    h, rem = divmod(abs(int(off.total_seconds())), 3600)
    return f"{dt.tzname()}, UTC{sign}{h:02d}:{rem // 60:02d}"


def _dst_note(cron: str, local: datetime, zone: tzinfo) -> str:
    naive = local.replace(tzinfo=None)
    day = f"{local:%a %d %b %Y}"
    # Repeated wall-clock time: the two folds have different offsets and the time exists.
    a, b = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    if a.utcoffset() != b.utcoffset():
        first = local.fold == 0
        return (
            f"{naive:%H:%M} happens twice on {day} (clocks go back); Chorus runs both: this is "
            f"the {'first' if first else 'second'} ({_fmt_offset(local)})."
        )
    # Gap: the tick sits exactly where clocks jumped forward and a scheduled wall time in the
    # skipped range was moved here.
    before = (local.astimezone(UTC) - timedelta(microseconds=1)).astimezone(zone)
    jump = (local.utcoffset() or timedelta(0)) - (before.utcoffset() or timedelta(0))
    if jump <= timedelta(0):
        return ""
    gap_start = naive - jump
    skipped = []
    it = croniter(cron, gap_start - timedelta(minutes=1))
    while True:
        cand = it.get_next(datetime)
        if cand >= naive:
            break
        skipped.append(f"{cand:%H:%M}")
    if not skipped:
        return ""
    times = ", ".join(skipped[:3]) + (f" and {len(skipped) - 3} more" if len(skipped) > 3 else "")
    merged = " (merged with this run)" if croniter.match(cron, naive) else ""
    verb = "does" if len(skipped) == 1 else "do"
    return (
        f"{times} {verb} not exist on {day} (clocks jump from {gap_start:%H:%M} to "
        f"{naive:%H:%M}); Chorus runs once at {naive:%H:%M} {local.tzname()} instead{merged}."
    )
