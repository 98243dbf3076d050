"""The next-runs preview, with a note on each tick a DST change moves or repeats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from itertools import islice

from croniter import croniter
from django.utils.timezone import now as _now

from deployments.schedules import wallclock
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
        return "gap" if "not exist" in self.dst_note else "repeat"


def next_runs(
    expr: str | Schedule, tz: str | tzinfo = "UTC", n: int = 5, start: datetime | None = None
) -> list[NextRun]:
    """The next `n` ticks after `start` (default: now) in `tz` and UTC, with DST notes.

    The ticks are the scheduler's own (Schedule.iter_after), so the preview shows exactly
    what will fire."""
    schedule = expr if isinstance(expr, Schedule) else parse_schedule(expr)
    zone = get_zone(tz)
    t = start or _now()
    require_aware(t)
    out: list[NextRun] = []
    previous = t
    for at in islice(schedule.iter_after(t, zone), n):
        note = (
            ""
            if not schedule.cron
            else _dst_note(schedule.cron, previous, at, zone, schedule.every_occurrence)
        )
        out.append(NextRun(at_local=at.astimezone(zone), at_utc=at, dst_note=note))
        previous = at
    return out


def _fmt_offset(dt: datetime) -> str:
    off = dt.utcoffset() or timedelta(0)
    sign = "+" if off >= timedelta(0) else "-"
    h, rem = divmod(abs(int(off.total_seconds())), 3600)
    return f"{dt.tzname()}, UTC{sign}{h:02d}:{rem // 60:02d}"


def _dst_note(cron: str, previous: datetime, at: datetime, zone: tzinfo, every: bool) -> str:
    """Why tick `at` (following `previous`) is where it is, when a DST change touches it."""
    tick = at.astimezone(zone)
    naive = tick.replace(tzinfo=None)
    day = f"{tick:%a %d %b %Y}"
    # Repeated wall-clock time: the two folds have different offsets and the time exists.
    if len(wallclock.instants(naive, zone, every=True)) == 2:
        if not every:
            return (
                f"{naive:%H:%M} happens twice on {day} (clocks go back); Chorus runs it once, "
                f"at the first ({_fmt_offset(tick)}), as cron does for fixed hours."
            )
        first = at == wallclock.instants(naive, zone, every=True)[0]
        return (
            f"{naive:%H:%M} happens twice on {day} (clocks go back); Chorus runs both: this is "
            f"the {'first' if first else 'second'} ({_fmt_offset(tick)})."
        )
    # Gap: clocks jumped forward between the previous tick and this one.
    jump = wallclock.offset(at, zone) - wallclock.offset(previous, zone)
    if jump <= timedelta(0):
        return ""
    jumped = wallclock.transition(previous, at, zone)
    gap_end = wallclock.local(jumped, zone)
    gap_start = gap_end - jump
    skipped = []
    it = croniter(cron, gap_start - timedelta(microseconds=1))
    while (cand := it.get_next(datetime)) < gap_end:
        skipped.append(f"{cand:%H:%M}")
    if not skipped:
        return ""
    times = ", ".join(skipped[:3]) + (f" and {len(skipped) - 3} more" if len(skipped) > 3 else "")
    verb = "does" if len(skipped) == 1 else "do"
    clocks = (
        f"{times} {verb} not exist on {gap_end:%a %d %b %Y} "
        f"(clocks jump from {gap_start:%H:%M} to {gap_end:%H:%M})"
    )
    if every:
        them = "it" if len(skipped) == 1 else "them"
        return f"{clocks}; Chorus skips {them}, as cron does for a wildcard hour."
    merged = " (merged with this run)" if croniter.match(cron, gap_end) else ""
    return f"{clocks}; Chorus runs once at {gap_end:%H:%M} {tick.tzname()} instead{merged}."
