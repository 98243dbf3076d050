"""Schedules: parse, validate, describe and preview what a deployment runs on.

Three spellings are accepted (see docs/deployments.md):
- a 5-field cron expression (`*/15 * * * *`, `0 2 * * mon-fri`), standard cron semantics
  (when both day-of-month and day-of-week are restricted, either one matching fires);
- a macro: @hourly @daily @midnight @weekly @monthly @yearly @annually;
- `@every <duration>` (`@every 2s`, `@every 10m`, `@every 1h30m`), at least one second.

Tick times are defined by croniter in the deployment's IANA timezone, and Chorus keeps to
croniter's answer on DST days, so the preview, the scheduler and catch-up all agree:
- a wall-clock time that does not exist (spring forward, e.g. 02:30 in Europe/Berlin on
  2026-03-29) runs once, at the first instant after the gap (03:00 local); several gap times
  collapse into that one run;
- a wall-clock time that happens twice (fall back, e.g. 02:30 on 2026-10-25) runs twice,
  once in each UTC offset.
`@every` schedules tick in absolute time at whole multiples of the period since the Unix epoch
(`@every 10m` fires at :00, :10, :20 UTC), so DST never affects them and a tick's identity does
not depend on when it was deployed.
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache

from cron_descriptor import ExpressionDescriptor, Options
from croniter import CroniterBadDateError, croniter
from django.core.exceptions import ValidationError
from django.utils.timezone import now as _now

MACROS: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MIN_INTERVAL_SECONDS = 1
MAX_INTERVAL_SECONDS = 366 * 86400
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_FIELD_NAMES = ("minute", "hour", "day of month", "month", "day of week")
# Only the portable cron syntax: numbers, *, ranges, steps, lists, month and day names.
# croniter's extensions (L, W, #, H, seconds, years) are refused: beat cannot express them.
_FIELD_RE = (
    re.compile(r"^[\d*/,-]+$"),
    re.compile(r"^[\d*/,-]+$"),
    re.compile(r"^[\d*/,-]+$"),
    re.compile(r"^(?:[\d*/,-]|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)+$", re.I),
    re.compile(r"^(?:[\d*/,-]|sun|mon|tue|wed|thu|fri|sat)+$", re.I),
)
_FIELD_RANGES = (
    "0-59",
    "0-23",
    "1-31",
    "1-12 or jan-dec",
    "0-7 or sun-sat (Sunday is 0 or 7)",
)


# --- timezones --------------------------------------------------------------------------------
@cache
def _available_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@cache
def _timezones_by_lower() -> dict[str, str]:
    return {name.lower(): name for name in _available_timezones()}


def validate_timezone(name: str) -> str:
    """The IANA timezone name, stripped; ValidationError with a suggestion when unknown."""
    name = (name or "").strip()
    if not name:
        raise ValidationError("Choose a timezone, e.g. UTC or Europe/Berlin.", code="timezone")
    # "europe/berlin" and "utc" are unambiguous: accept them in their canonical spelling.
    name = _timezones_by_lower().get(name.lower(), name)
    if name not in _available_timezones():
        close = difflib.get_close_matches(name, sorted(_available_timezones()), n=1, cutoff=0.75)
        hint = f' Did you mean "{close[0]}"?' if close else ""
        raise ValidationError(
            f'Unknown timezone "{name}". Use an IANA name such as "Europe/Berlin", '
            f'"America/New_York" or "UTC".{hint}',
            code="timezone",
        )
    return name


def get_zone(tz: str | tzinfo) -> tzinfo:
    if isinstance(tz, str):
        return zoneinfo.ZoneInfo(validate_timezone(tz))
    return tz


# --- durations --------------------------------------------------------------------------------
def parse_duration(text: str) -> int:
    """'1h30m' -> 5400 seconds; ValidationError on anything else."""
    text = (text or "").strip().lower().replace(" ", "")
    m = _DURATION_RE.match(text)
    if not text or not m or not any(m.groups()):
        raise ValidationError(
            f'"{text}" is not a duration. Write it like 30s, 10m, 2h or 1h30m.', code="duration"
        )
    seconds = sum(int(v) * _UNIT_SECONDS[u] for v, u in zip(m.groups(), "dhms", strict=True) if v)
    if seconds < MIN_INTERVAL_SECONDS:
        raise ValidationError("The interval must be at least 1 second.", code="duration")
    if seconds > MAX_INTERVAL_SECONDS:
        raise ValidationError("The interval must be at most 366 days.", code="duration")
    return seconds


def format_duration(seconds: int) -> str:
    """5400 -> '1 hour and 30 minutes'; 600 -> '10 minutes'; 3600 -> 'hour'."""
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{n} {unit}{'s' if n != 1 else ''}")
    if len(parts) == 1 and parts[0].startswith("1 "):
        return parts[0][2:]
    return " and ".join([", ".join(parts[:-1]), parts[-1]]) if len(parts) > 1 else parts[0]


def _compact_duration(seconds: int) -> str:
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            out += f"{n}{unit}"
    return out


# --- the schedule -----------------------------------------------------------------------------
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


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule. `expr` is what the user wrote (stripped); `cron` the 5-field form."""

    expr: str
    kind: str  # "cron" or "interval"
    cron: str = ""
    interval_seconds: int = 0

    @property
    def is_interval(self) -> bool:
        return self.kind == "interval"

    @property
    def canonical(self) -> str:
        """A normalised spelling (`@every 1h30m`, `0 2 * * *`), e.g. for CHORUS_PERIODICITY."""
        if self.is_interval:
            return f"@every {_compact_duration(self.interval_seconds)}"
        return self.cron

    def describe(self) -> str:
        if self.is_interval:
            return f"Every {format_duration(self.interval_seconds)}"
        opts = Options()
        opts.use_24hour_time_format = True
        opts.verbose = False
        return ExpressionDescriptor(self.cron, opts).get_description()

    # -- ticks ---------------------------------------------------------------------------------
    def next_after(self, t: datetime, tz: str | tzinfo = "UTC") -> datetime:
        """The first tick strictly after `t` (aware), as an aware UTC datetime."""
        _require_aware(t)
        if self.is_interval:
            p = self.interval_seconds
            ts = int(t.timestamp() // p) * p + p
            return datetime.fromtimestamp(ts, UTC)
        it = croniter(self.cron, t.astimezone(get_zone(tz)))
        return it.get_next(datetime).astimezone(UTC)

    def latest_at_or_before(self, t: datetime, tz: str | tzinfo = "UTC") -> datetime:
        """The last tick at or before `t`: the tick a beat message arriving at `t` belongs to."""
        _require_aware(t)
        if self.is_interval:
            p = self.interval_seconds
            return datetime.fromtimestamp(int(t.timestamp() // p) * p, UTC)
        # croniter's get_prev is strict; start a microsecond later so a tick at `t` counts.
        it = croniter(self.cron, t.astimezone(get_zone(tz)) + timedelta(microseconds=1))
        return it.get_prev(datetime).astimezone(UTC)

    def ticks_between(
        self, start: datetime, end: datetime, tz: str | tzinfo = "UTC", *, limit: int | None = None
    ) -> list[datetime]:
        """Every tick in (start, end] as aware UTC datetimes, oldest first (at most `limit`)."""
        _require_aware(start)
        _require_aware(end)
        out: list[datetime] = []
        if end <= start:
            return out
        if self.is_interval:
            p = self.interval_seconds
            first = int(start.timestamp() // p) * p + p
            last = int(end.timestamp() // p) * p
            for ts in range(first, last + 1, p):
                out.append(datetime.fromtimestamp(ts, UTC))
                if limit is not None and len(out) >= limit:
                    break
            return out
        it = croniter(self.cron, start.astimezone(get_zone(tz)))
        while limit is None or len(out) < limit:
            t = it.get_next(datetime).astimezone(UTC)
            if t > end:
                break
            out.append(t)
        return out

    def is_due(self, *, last: datetime, now: datetime, tz: str | tzinfo = "UTC") -> bool:
        """True when a tick falls in (last, now]."""
        return self.next_after(last, tz) <= now


def _require_aware(t: datetime) -> None:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError("schedules work on timezone-aware datetimes")


def parse_schedule(expr: str) -> Schedule:
    """Parse a schedule or raise ValidationError with a message a user can act on."""
    text = " ".join((expr or "").split())
    if not text:
        raise ValidationError(
            "Enter a schedule: a cron expression like */10 * * * *, a macro like @daily, "
            "or an interval like @every 10m.",
            code="schedule",
        )
    lowered = text.lower()
    if lowered.startswith("@every"):
        rest = text[len("@every") :].strip()
        if not rest:
            raise ValidationError(
                "@every needs a duration, e.g. @every 10m or @every 1h30m.", code="schedule"
            )
        return Schedule(expr=text, kind="interval", interval_seconds=parse_duration(rest))
    if lowered.startswith("@"):
        if lowered not in MACROS:
            raise ValidationError(
                f'Unknown macro "{text}". Use one of {", ".join(MACROS)} or @every <duration>.',
                code="schedule",
            )
        return Schedule(expr=text, kind="cron", cron=MACROS[lowered])
    fields = text.split(" ")
    if len(fields) != 5:
        raise ValidationError(
            f'"{text}" has {len(fields)} field{"s" if len(fields) != 1 else ""}; a cron expression '
            "has 5: minute hour day-of-month month day-of-week (e.g. 0 2 * * *).",
            code="schedule",
        )
    for name, value, pattern in zip(_FIELD_NAMES, fields, _FIELD_RE, strict=True):
        if not pattern.match(value):
            raise ValidationError(
                f'Invalid {name} field "{value}" in "{text}": use numbers, *, ranges (1-5), '
                "steps (*/15) and lists (1,15).",
                code="schedule",
            )
    cron = " ".join(fields).lower()
    # Check each field alone first so the message names the field that is wrong.
    for i, (name, value) in enumerate(zip(_FIELD_NAMES, fields, strict=True)):
        alone = ["*"] * 5
        alone[i] = value.lower()
        try:
            croniter(" ".join(alone))
        except (ValueError, KeyError):
            raise ValidationError(
                f'Invalid {name} field "{value}" in "{text}": allowed values are '
                f"{_FIELD_RANGES[i]}.",
                code="schedule",
            ) from None
    try:
        it = croniter(cron, datetime(2026, 1, 1, tzinfo=UTC))
    except (ValueError, KeyError) as exc:
        raise ValidationError(
            f'Invalid cron expression "{text}": {_croniter_reason(exc)}.', code="schedule"
        ) from None
    try:
        it.get_next(datetime)
    except CroniterBadDateError:
        raise ValidationError(
            f'"{text}" never fires (no calendar date matches it).', code="schedule"
        ) from None
    return Schedule(expr=text, kind="cron", cron=cron)


def _croniter_reason(exc: Exception) -> str:
    msg = str(exc).strip().rstrip(".")
    # croniter prefixes its messages with the expression; keep only the reason.
    return msg.split(": ", 1)[-1] if ": " in msg else (msg or "not a valid expression")


def describe(expr: str) -> str:
    """Human words for a schedule: 'Every 10 minutes', 'At 02:00'."""
    return parse_schedule(expr).describe()


# --- preview ----------------------------------------------------------------------------------
def next_runs(
    expr: str | Schedule, tz: str | tzinfo = "UTC", n: int = 5, start: datetime | None = None
) -> list[NextRun]:
    """The next `n` ticks after `start` (default: now) in `tz` and UTC, with DST notes."""
    schedule = expr if isinstance(expr, Schedule) else parse_schedule(expr)
    zone = get_zone(tz)
    t = start or _now()
    _require_aware(t)
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


# --- django-celery-beat -----------------------------------------------------------------------
def _beat_field(index: int, value: str, expanded: list) -> str:
    plain = re.fullmatch(r"[\d*/,-]+", value) is not None
    # Celery's day-of-week is 0-6 (Sunday=0); cron also allows 7 for Sunday.
    if plain and not (index == 4 and "7" in value):
        return value
    if expanded == ["*"]:
        return "*"
    return ",".join(
        str(v) for v in sorted({int(v) % 7 if index == 4 else int(v) for v in expanded})
    )


def to_beat_schedule(schedule: Schedule, tz: str | tzinfo = "UTC"):
    """The django-celery-beat schedule row for `schedule` (get_or_create).

    Returns a CrontabSchedule (with `timezone`) for cron and macros, an IntervalSchedule
    (period in seconds) for `@every`.
    """
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule

    if schedule.is_interval:
        row, _ = IntervalSchedule.objects.get_or_create(
            every=schedule.interval_seconds, period=IntervalSchedule.SECONDS
        )
        return row
    zone = get_zone(tz)
    fields = schedule.cron.split(" ")
    expanded = croniter(schedule.cron).expanded
    minute, hour, dom, month, dow = (_beat_field(i, f, expanded[i]) for i, f in enumerate(fields))
    row = CrontabSchedule.objects.filter(
        minute=minute,
        hour=hour,
        day_of_month=dom,
        month_of_year=month,
        day_of_week=dow,
        timezone=str(zone),
    ).first()
    if row is None:
        row = CrontabSchedule.objects.create(
            minute=minute,
            hour=hour,
            day_of_month=dom,
            month_of_year=month,
            day_of_week=dow,
            timezone=zone,
        )
    return row
