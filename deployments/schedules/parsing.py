"""Parsing and validating what a user writes: cron, macros, `@every`, `@at`; and its words."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

from croniter import CroniterBadDateError, croniter
from django.core.exceptions import ValidationError

from deployments.schedules.durations import parse_duration
from deployments.schedules.schedule import Schedule

MACROS: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
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


_SPREAD_RE = re.compile(r"^H(?:\((\d+)-(\d+)\))?(?:/(\d+))?$", re.I)
_SPREAD_TOKEN = re.compile(r"(?<![a-z])H(?![a-z])", re.I)  # not the h of "thu"
_SPREAD_BOUNDS = ((0, 59), (0, 23))


def schedule_seed(project_slug: str, component_name: str, environment_slug: str) -> str:
    """What `H` in a deployment's cron is derived from: its project, component and environment,
    so the value survives restarts, redeploys and undeploy/deploy, and differs between them."""
    return f"{project_slug}/{component_name}/{environment_slug}"


def uses_spread(expr: str) -> bool:
    """True when a cron expression has `H` somewhere, so its ticks depend on the seed."""
    text = (expr or "").strip()
    return not text.startswith("@") and bool(_SPREAD_TOKEN.search(text))


def _spread_value(seed: str, index: int, size: int) -> int:
    digest = hashlib.sha256(f"{seed}|{index}".encode()).hexdigest()
    return int(digest[:15], 16) % size


def _spread(fields: list[str], text: str, seed: str) -> list[str]:
    """Replace `H`, `H/n`, `H(a-b)` and `H(a-b)/n` by concrete values derived from `seed`."""
    out = list(fields)
    for i, value in enumerate(fields):
        if not _SPREAD_TOKEN.search(value):
            continue
        name = _FIELD_NAMES[i]
        if i >= len(_SPREAD_BOUNDS):
            raise ValidationError(
                f'"{value}" in the {name} field of "{text}": H (a spread value) is allowed '
                "in the minute and hour fields only.",
                code="schedule",
            )
        m = _SPREAD_RE.match(value)
        if m is None:
            raise ValidationError(
                f'Invalid {name} field "{value}" in "{text}": H stands alone or as H/15, '
                "H(0-29) or H(0-29)/10 (a value spread by a hash of the deployment).",
                code="schedule",
            )
        low, high = _SPREAD_BOUNDS[i]
        lo, hi = (int(m[1]), int(m[2])) if m[1] is not None else (low, high)
        if not low <= lo <= hi <= high:
            raise ValidationError(
                f'Invalid {name} field "{value}" in "{text}": the range of H must lie within '
                f"{low}-{high}, lowest first.",
                code="schedule",
            )
        if m[3] is None:
            out[i] = str(lo + _spread_value(seed, i, hi - lo + 1))
            continue
        step = int(m[3])
        if not 1 <= step <= hi - lo + 1:
            raise ValidationError(
                f'Invalid {name} field "{value}" in "{text}": the step of H must be between 1 '
                f"and {hi - lo + 1}.",
                code="schedule",
            )
        start = lo + _spread_value(seed, i, step)
        if i == 0:  # minutes: a plain list reads best ("At 7, 22, 37 and 52 minutes")
            out[i] = ",".join(str(v) for v in range(start, hi + 1, step))
        else:  # hours: keep the step, so DST treats it as a stepped hour (every occurrence)
            out[i] = f"{start}-{hi}/{step}"
    return out


def parse_schedule(expr: str, seed: str = "", *, dst: str = "cron") -> Schedule:
    """Parse a schedule or raise ValidationError with a message a user can act on.

    `seed` (schedule_seed) fixes what `H` in a cron field stands for; every path that computes
    a deployment's ticks passes the deployment's seed (Deployment.parsed_schedule). `dst`
    ("cron", "every" or "once") is the deployment's DST rule for cron schedules."""
    text = " ".join((expr or "").split())
    if not text:
        raise ValidationError(
            "Enter a schedule: a cron expression like */10 * * * *, a macro like @daily, "
            "or an interval like @every 10m.",
            code="schedule",
        )
    lowered = text.lower()
    if lowered.startswith("@at"):
        return Schedule(expr=text, kind="once", at=_parse_at(text[len("@at") :].strip()))
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
        return Schedule(expr=text, kind="cron", cron=MACROS[lowered], dst=dst)
    fields = text.split(" ")
    if len(fields) != 5:
        raise ValidationError(
            f'"{text}" has {len(fields)} field{"s" if len(fields) != 1 else ""}; a cron expression '
            "has 5: minute hour day-of-month month day-of-week (e.g. 0 2 * * *).",
            code="schedule",
        )
    fields = _spread(fields, text, seed)
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
    return Schedule(expr=text, kind="cron", cron=cron, dst=dst)


def _parse_at(text: str) -> datetime:
    example = "@at 2026-12-24T18:00 (a date and time in the deployment's timezone)"
    if not text:
        raise ValidationError(f"@at needs a date and time, e.g. {example}.", code="schedule")
    try:
        at = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        raise ValidationError(
            f'"{text}" is not a date and time; write it like {example}.', code="schedule"
        ) from None
    if at.tzinfo is not None:
        raise ValidationError(
            f'"{text}" carries a UTC offset; write the local time, e.g. {example}.',
            code="schedule",
        )
    if at.second or at.microsecond:
        raise ValidationError(
            f'"{text}": one-off runs are set to the minute, e.g. {example}.', code="schedule"
        )
    return at


def check_schedule_in_zone(
    schedule: Schedule, tz: str, *, now: datetime, allow_past: bool = False
) -> None:
    """What a schedule must also satisfy in its timezone: a one-off time exists once there and
    (unless `allow_past`, e.g. an unchanged schedule being redeployed) lies in the future."""
    if not schedule.is_once:
        return
    at = schedule.instant(tz)
    if at <= now and not allow_past:
        raise ValidationError(
            f"{schedule.at:%Y-%m-%d %H:%M} in {tz} has already passed "
            f"({at:%Y-%m-%d %H:%M} UTC); choose a time in the future.",
            code="schedule",
        )


def _croniter_reason(exc: Exception) -> str:
    msg = str(exc).strip().rstrip(".")
    # croniter prefixes its messages with the expression; keep only the reason.
    return msg.split(": ", 1)[-1] if ": " in msg else (msg or "not a valid expression")


def describe(expr: str, seed: str = "") -> str:
    """Human words for a schedule: 'Every 10 minutes', 'At 02:00'."""
    return parse_schedule(expr, seed).describe()
