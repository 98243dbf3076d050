"""Cron's DST rule over every 2026-2027 change in four zones, for fixed and wildcard hours.

Fixed hours (`30 2 * * *`) run once on every local day, also when the clocks go back (the first
occurrence) or jump over the time (at the jump); a wildcard or step in the hour field runs at
every real instant whose wall-clock time matches. The preview, `ticks_between`, `next_after`
and `latest_at_or_before` give the same ticks (the scheduler's side is in
tests/unit/executions/test_dst_ticks.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from deployments.schedules.parsing import parse_schedule
from deployments.schedules.preview import next_runs

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago"]


def changes(zone: ZoneInfo) -> list[tuple[datetime, timedelta]]:
    """Every UTC offset change in 2026-2027: (the instant, how far clocks moved)."""
    out = []
    day = datetime(2026, 1, 1, tzinfo=UTC)
    while day.year < 2028:
        nxt = day + timedelta(days=1)
        before, after = day.astimezone(zone).utcoffset(), nxt.astimezone(zone).utcoffset()
        if before != after:
            lo, hi = int(day.timestamp()), int(nxt.timestamp())
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if datetime.fromtimestamp(mid, UTC).astimezone(zone).utcoffset() == before:
                    lo = mid
                else:
                    hi = mid
            out.append((datetime.fromtimestamp(hi, UTC), after - before))
        day = nxt
    return out


CASES = [
    pytest.param(
        name, at, jump, id=f"{name}-{at:%Y-%m-%d}-{'spring' if jump > timedelta(0) else 'fall'}"
    )
    for name in ZONES
    for at, jump in changes(ZoneInfo(name))
]


def test_each_zone_changes_twice_a_year():
    for name in ZONES:
        found = changes(ZoneInfo(name))
        assert len(found) == 4, name
        shifts = {abs(jump) for _, jump in found}
        assert shifts == (
            {timedelta(minutes=30)} if name == "Australia/Lord_Howe" else {timedelta(hours=1)}
        )


def affected_wall_time(zone: ZoneInfo, at: datetime, jump: timedelta) -> datetime:
    """A wall-clock time inside the gap (spring) or the repeated span (fall)."""
    after = at.astimezone(zone).replace(tzinfo=None)
    return after - jump / 2 if jump > timedelta(0) else after + abs(jump) / 2


def all_agree(expr: str, zone: str, start: datetime, end: datetime) -> list[datetime]:
    """The ticks in (start, end]; asserts every way of computing them gives the same."""
    s = parse_schedule(expr)
    ticks = s.ticks_between(start, end, zone)
    preview = [r.at_utc for r in next_runs(expr, zone, n=len(ticks) + 1, start=start)]
    assert preview[:-1] == ticks and preview[-1] > end
    chained, t = [], start
    while (t := s.next_after(t, zone)) <= end:
        chained.append(t)
    assert chained == ticks
    for tick in ticks[::7]:
        assert s.latest_at_or_before(tick, zone) == tick
        assert s.latest_at_or_before(tick + timedelta(seconds=59), zone) == tick
    return ticks


@pytest.mark.parametrize(("name", "at", "jump"), CASES)
def test_fixed_hours_run_once_a_day(name, at, jump):
    zone = ZoneInfo(name)
    wall = affected_wall_time(zone, at, jump)
    expr = f"{wall.minute} {wall.hour} * * *"
    ticks = all_agree(expr, name, at - timedelta(days=3), at + timedelta(days=3))
    days = [t.astimezone(zone).date() for t in ticks]
    # One run on each local day, the change's too.
    assert days == [days[0] + timedelta(days=i) for i in range(len(days))]
    assert len(days) >= 5
    on_the_day = [t for t in ticks if t.astimezone(zone).date() == wall.date()]
    assert len(on_the_day) == 1
    if jump > timedelta(0):
        # The time does not exist: it runs when the clocks jump.
        assert on_the_day[0] == at
    else:
        # The time happens twice: it runs at the first, still in the old offset.
        assert on_the_day[0] < at
        assert on_the_day[0].astimezone(zone).replace(tzinfo=None) == wall
    runs = next_runs(expr, name, n=6, start=at - timedelta(days=3))
    flagged = [r for r in runs if r.dst_note]
    assert [r.at_utc for r in flagged] == on_the_day
    assert flagged[0].dst_kind == ("gap" if jump > timedelta(0) else "repeat")


@pytest.mark.parametrize(("name", "at", "jump"), CASES)
@pytest.mark.parametrize("expr", ["*/15 * * * *", "30 * * * *", "0 */2 * * *", "* * * * *"])
def test_wildcard_hours_run_at_every_real_occurrence(name, at, jump, expr):
    zone = ZoneInfo(name)
    start, end = at - timedelta(hours=5), at + timedelta(hours=5)
    ticks = all_agree(expr, name, start, end)
    # Every real minute whose wall-clock time matches, and nothing else.
    minutes = (start + timedelta(minutes=i) for i in range(1, 10 * 60 + 1))
    expected = [m for m in minutes if croniter.match(expr, m.astimezone(zone).replace(tzinfo=None))]
    assert ticks == expected
    if expr == "*/15 * * * *":
        # Whole quarter-hour shifts: a quarter of an hour apart in real time, throughout.
        assert all(b - a == timedelta(minutes=15) for a, b in zip(ticks, ticks[1:], strict=False))
        assert len(ticks) == 40


def test_the_notes_say_what_happens():
    fall = next_runs(
        "*/30 * * * *", "Australia/Lord_Howe", n=3, start=datetime(2026, 4, 4, 14, 20, tzinfo=UTC)
    )
    # Clocks go back from 02:00 to 01:30 (+11 to +10:30): 01:30 happens twice, both run.
    assert [r.at_local.strftime("%H:%M%z") for r in fall] == [
        "01:30+1100",
        "01:30+1030",
        "02:00+1030",
    ]
    assert "this is the first" in fall[0].dst_note and "this is the second" in fall[1].dst_note
    spring = next_runs(
        "0 0 * * *", "America/Santiago", n=2, start=datetime(2026, 9, 5, 12, tzinfo=UTC)
    )
    assert spring[0].at_local.strftime("%a %H:%M%z") == "Sun 01:00-0300"
    assert spring[0].dst_note == (
        "00:00 does not exist on Sun 06 Sep 2026 (clocks jump from 00:00 to 01:00); "
        "Chorus runs once at 01:00 -03 instead."
    )
