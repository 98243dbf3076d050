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
