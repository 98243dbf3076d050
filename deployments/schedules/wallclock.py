"""Cron ticks in a timezone, across DST changes, by cron's long-standing rule.

Candidates are the wall-clock times an expression matches (croniter over naive datetimes, so
croniter's own DST handling never applies), and each becomes zero, one or two instants:
- a time that exists once: that instant;
- a time that happens twice (clocks go back): for a schedule with a wildcard or step in its
  hour field (`*/15 * * * *`, `0 * * * *`), both instants: it runs at every real occurrence;
  for fixed hours (`30 2 * * *`, `0 1-3 * * *`), only the first: a daily job runs once;
- a time that does not exist (clocks jump forward): for fixed hours, the instant the clocks
  jumped (several such times become one run there); for a wildcard hour, nothing, since that
  time never happened (the schedule goes on at its next real time).

A wall time maps to an instant up to one DST shift away from its neighbours', so near a
change the candidates are read as far beyond the instants wanted as the clocks move there, and
sorted; away from one (the same UTC offset SHIFT either side) instants follow wall-clock order
and are taken directly, which keeps the scheduler's hot path to two croniter steps.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo

from croniter import croniter

# Larger than any DST shift (one hour, thirty minutes on Lord Howe Island, two at most).
SHIFT = timedelta(hours=3)


def every_occurrence(cron: str) -> bool:
    """True when the hour field has a wildcard or step: run at every real occurrence."""
    hour = cron.split(" ")[1]
    return "*" in hour or "/" in hour


def local(u: datetime, zone: tzinfo) -> datetime:
    """The naive wall-clock time of instant `u` in `zone`."""
    return u.astimezone(zone).replace(tzinfo=None)


def offset(u: datetime, zone: tzinfo) -> timedelta:
    return u.astimezone(zone).utcoffset() or timedelta(0)


def spread(u: datetime, zone: tzinfo) -> timedelta:
    """How far the clocks move within SHIFT of instant `u` (zero away from a DST change)."""
    return abs(offset(u + SHIFT, zone) - offset(u - SHIFT, zone))


def transition(before: datetime, after: datetime, zone: tzinfo) -> datetime:
    """The first instant in (before, after] with `after`'s offset (offsets change on seconds)."""
    lo, hi = int(before.timestamp()), int(after.timestamp())
    old = offset(before, zone)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if offset(datetime.fromtimestamp(mid, UTC), zone) == old:
            lo = mid
        else:
            hi = mid
    return datetime.fromtimestamp(hi, UTC)


def instants(wall: datetime, zone: tzinfo, every: bool) -> list[datetime]:
    """The instants (UTC) that wall-clock time `wall` fires at, by the rule above."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return [first]
    if local(first, zone) == wall:  # repeated: clocks went back
        early, late = sorted((first, second))
        return [early, late] if every else [early]
    # In a gap: fold=1 reads it with the new offset (before the jump), fold=0 with the old.
    return [] if every else [transition(min(first, second), max(first, second), zone)]


def iter_after(
    cron: str, zone: tzinfo, t: datetime, every: bool | None = None
) -> Iterator[datetime]:
    """Every tick strictly after instant `t`, oldest first, as aware UTC datetimes (`every`
    overrides the rule the hour field gives)."""
    every = every_occurrence(cron) if every is None else every
    start = local(t, zone) - spread(t, zone)
    candidates = croniter(cron, start)
    pending: list[datetime] = []
    last = t
    while True:
        wall = candidates.get_next(datetime)
        for u in instants(wall, zone, every):
            if u > last:
                heapq.heappush(pending, u)
        # No later candidate can fire before pending[0] once the wall clock is past it by
        # more than the clocks move there.
        while pending and wall > local(pending[0], zone) + spread(pending[0], zone):
            u = heapq.heappop(pending)
            if u > last:
                last = u
                yield u


def latest_at_or_before(
    cron: str, zone: tzinfo, t: datetime, every: bool | None = None
) -> datetime:
    """The last tick at or before instant `t` (the mirror of iter_after, first value only)."""
    every = every_occurrence(cron) if every is None else every
    start = local(t, zone) + spread(t, zone) + timedelta(microseconds=1)  # get_prev is strict
    candidates = croniter(cron, start)
    best: datetime | None = None
    while True:
        wall = candidates.get_prev(datetime)
        for u in instants(wall, zone, every):
            if u <= t and (best is None or u > best):
                best = u
        if best is not None and wall < local(best, zone) - spread(best, zone):
            return best
