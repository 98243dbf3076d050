"""Schedules: parse, validate, describe and preview what a deployment runs on.

Four spellings are accepted (see docs/deployments.md):
- a 5-field cron expression (`*/15 * * * *`, `0 2 * * mon-fri`), standard cron semantics
  (when both day-of-month and day-of-week are restricted, either one matching fires);
- a macro: @hourly @daily @midnight @weekly @monthly @yearly @annually;
- `@every <duration>` (`@every 2s`, `@every 10m`, `@every 1h30m`), at least one second;
- `@at <date>T<time>` (`@at 2026-12-24T18:00`): once, at that wall-clock time in the
  deployment's timezone; refused when it has passed, or when a DST change makes it ambiguous
  or skips it there (parsing.check_schedule_in_zone).

`H` in the minute or hour field (`H 2 * * *`, `H/15 * * * *`, `H(0-29) * * * *`) is a value
from a hash of the deployment (parsing.schedule_seed: project, component, environment), resolved
at parse time; Deployment.parsed_schedule is the one parse every tick computation uses.

Tick times follow cron's DST rule in the deployment's IANA timezone (wallclock.py), and the
preview, the scheduler and catch-up all take them from Schedule, so they agree:
- fixed hours (`30 2 * * *`) run once on every local day: a repeated wall-clock time (fall back)
  at its first occurrence, a skipped one (spring forward) when the clocks jump;
- a wildcard or step in the hour field (`*/15 * * * *`) runs at every real occurrence: both
  times of a repeated hour, none in a gap.
`@every` schedules tick in absolute time at whole multiples of the period since the Unix epoch
(`@every 10m` fires at :00, :10, :20 UTC), so DST never affects them and a tick's identity does
not depend on when it was deployed.
"""

from __future__ import annotations
