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

from deployments.schedules.beat import _beat_field as _beat_field
from deployments.schedules.beat import to_beat_schedule
from deployments.schedules.durations import _DURATION_RE as _DURATION_RE
from deployments.schedules.durations import _UNIT_SECONDS as _UNIT_SECONDS
from deployments.schedules.durations import (
    MAX_INTERVAL_SECONDS,
    MIN_INTERVAL_SECONDS,
    format_duration,
    parse_duration,
)
from deployments.schedules.durations import _compact_duration as _compact_duration
from deployments.schedules.parsing import _FIELD_NAMES as _FIELD_NAMES
from deployments.schedules.parsing import _FIELD_RANGES as _FIELD_RANGES
from deployments.schedules.parsing import _FIELD_RE as _FIELD_RE
from deployments.schedules.parsing import MACROS, describe, parse_schedule
from deployments.schedules.parsing import _croniter_reason as _croniter_reason
from deployments.schedules.preview import NextRun, next_runs
from deployments.schedules.preview import _dst_note as _dst_note
from deployments.schedules.preview import _fmt_offset as _fmt_offset
from deployments.schedules.schedule import Schedule
from deployments.schedules.schedule import _require_aware as _require_aware
from deployments.schedules.timezones import _available_timezones as _available_timezones
from deployments.schedules.timezones import _timezones_by_lower as _timezones_by_lower
from deployments.schedules.timezones import get_zone, validate_timezone

# `_now` (the clock next_runs reads) is deliberately not re-exported: patch it where it is
# looked up, deployments.schedules.preview._now.
__all__ = [
    "MACROS",
    "MAX_INTERVAL_SECONDS",
    "MIN_INTERVAL_SECONDS",
    "NextRun",
    "Schedule",
    "describe",
    "format_duration",
    "get_zone",
    "next_runs",
    "parse_duration",
    "parse_schedule",
    "to_beat_schedule",
    "validate_timezone",
]
