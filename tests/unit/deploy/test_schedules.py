"""deployments.schedules: parsing, words, next-run preview across the 2026 DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from deployments.schedules.parsing import describe, parse_schedule
from deployments.schedules.preview import next_runs
from deployments.schedules.timezones import validate_timezone


def utc(*a) -> datetime:
    return datetime(*a, tzinfo=UTC)


# --- parsing and words --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("*/10 * * * *", "Every 10 minutes"),
        ("* * * * *", "Every minute"),
        ("0 2 * * *", "At 02:00"),
        ("30 2 * * mon-fri", "At 02:30, Monday through Friday"),
        ("@hourly", "Every hour"),
        ("@daily", "At 00:00"),
        ("@midnight", "At 00:00"),
        ("@weekly", "At 00:00, only on Sunday"),
        ("@monthly", "At 00:00, on day 1 of the month"),
        ("@yearly", "At 00:00, on day 1 of the month, only in January"),
        ("@annually", "At 00:00, on day 1 of the month, only in January"),
        ("@every 10m", "Every 10 minutes"),
        ("@every 2s", "Every 2 seconds"),
        ("@every 1h30m", "Every 1 hour and 30 minutes"),
        ("@every 1h", "Every hour"),
    ],
)
def test_describe(expr, words):
    assert describe(expr) == words


def test_every_parses_durations():
    assert parse_schedule("@every 2s").interval_seconds == 2
    assert parse_schedule("@every 10m").interval_seconds == 600
    assert parse_schedule("@every 1h30m").interval_seconds == 5400
    assert parse_schedule("  @every   1h30m ").canonical == "@every 1h30m"
    assert parse_schedule("@every 90m").canonical == "@every 1h30m"


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("", "Enter a schedule"),
        ("* * * *", "has 4 fields; a cron expression has 5"),
        ("* * * * * *", "has 6 fields"),
        ("61 * * * *", 'Invalid minute field "61" in "61 * * * *": allowed values are 0-59.'),
        ("0 24 * * *", 'Invalid hour field "24"'),
        ("0 0 32 * *", 'Invalid day of month field "32"'),
        ("0 0 * 13 *", 'Invalid month field "13"'),
        ("0 0 * * 8", 'Invalid day of week field "8"'),
        ("0 0 L * *", 'Invalid day of month field "L"'),
        ("0 0 31 2 *", "never fires"),
        ("@fortnightly", 'Unknown macro "@fortnightly"'),
        ("@every", "@every needs a duration"),
        ("@every 0s", "at least 1 second"),
        ("@every 500ms", '"500ms" is not a duration'),
        ("@every soon", '"soon" is not a duration'),
    ],
)
def test_invalid_schedules_get_clear_messages(expr, message):
    with pytest.raises(ValidationError) as e:
        parse_schedule(expr)
    assert message in e.value.messages[0]


def test_unknown_timezone_message_suggests_a_name():
    with pytest.raises(ValidationError) as e:
        validate_timezone("Europe/Berln")
    assert e.value.messages == [
        'Unknown timezone "Europe/Berln". Use an IANA name such as "Europe/Berlin", '
        '"America/New_York" or "UTC". Did you mean "Europe/Berlin"?'
    ]
    with pytest.raises(ValidationError, match='Unknown timezone "Mars/Olympus"'):
        next_runs("* * * * *", "Mars/Olympus")
    assert validate_timezone("europe/berlin") == "Europe/Berlin"
    assert validate_timezone("UTC") == "UTC"


# --- DST: Europe/Berlin (spring 2026-03-29, fall 2026-10-25) -----------------------------------
def test_berlin_spring_gap_runs_at_three_and_is_flagged():
    runs = next_runs("30 2 * * *", "Europe/Berlin", n=3, start=utc(2026, 3, 27, 12))
    assert [r.at_local.isoformat() for r in runs] == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",  # 02:30 does not exist that night
        "2026-03-30T02:30:00+02:00",
    ]
    assert [r.at_utc for r in runs] == [
        utc(2026, 3, 28, 1, 30),
        utc(2026, 3, 29, 1),
        utc(2026, 3, 30, 0, 30),
    ]
    assert runs[0].dst_note == "" and runs[2].dst_note == ""
    assert runs[1].dst_kind == "gap"
    assert runs[1].dst_note == (
        "02:30 does not exist on Sun 29 Mar 2026 (clocks jump from 02:00 to 03:00); "
        "Chorus runs once at 03:00 CEST instead."
    )


def test_berlin_gap_skips_wildcard_hour_times():
    start = utc(2026, 3, 28, 23, 50)  # 00:50 CET
    runs = next_runs("*/30 * * * *", "Europe/Berlin", n=4, start=start)
    assert [r.at_local.strftime("%H:%M %Z") for r in runs] == [
        "01:00 CET",
        "01:30 CET",
        "03:00 CEST",  # 02:00 and 02:30 never happened: skipped, as cron does
        "03:30 CEST",
    ]
    assert runs[2].dst_kind == "gap"
    assert runs[2].dst_note == (
        "02:00, 02:30 do not exist on Sun 29 Mar 2026 (clocks jump from 02:00 to 03:00); "
        "Chorus skips them, as cron does for a wildcard hour."
    )
    hourly = next_runs("30 * * * *", "Europe/Berlin", n=2, start=start)
    assert [r.at_local.strftime("%H:%M %Z") for r in hourly] == ["01:30 CET", "03:30 CEST"]
    assert "02:30 does not exist" in hourly[1].dst_note and "skips it" in hourly[1].dst_note


def test_berlin_gap_collapses_fixed_hour_times_into_one_run():
    start = utc(2026, 3, 28, 23, 50)  # 00:50 CET
    runs = next_runs("15,45 1-3 * * *", "Europe/Berlin", n=5, start=start)
    assert [r.at_local.strftime("%H:%M %Z") for r in runs] == [
        "01:15 CET",
        "01:45 CET",
        "03:00 CEST",  # 02:15 and 02:45 run once, when the clocks jump
        "03:15 CEST",
        "03:45 CEST",
    ]
    assert runs[2].dst_note == (
        "02:15, 02:45 do not exist on Sun 29 Mar 2026 (clocks jump from 02:00 to 03:00); "
        "Chorus runs once at 03:00 CEST instead."
    )


def test_berlin_fall_back_runs_a_fixed_hour_once():
    runs = next_runs("30 2 * * *", "Europe/Berlin", n=3, start=utc(2026, 10, 23, 12))
    assert [r.at_local.isoformat() for r in runs] == [
        "2026-10-24T02:30:00+02:00",
        "2026-10-25T02:30:00+02:00",  # the first 02:30 only
        "2026-10-26T02:30:00+01:00",
    ]
    assert [r.dst_kind for r in runs] == ["", "repeat", ""]
    assert runs[1].dst_note == (
        "02:30 happens twice on Sun 25 Oct 2026 (clocks go back); Chorus runs it once, at the "
        "first (CEST, UTC+02:00), as cron does for fixed hours."
    )


def test_berlin_fall_back_runs_a_wildcard_hour_at_every_occurrence():
    runs = next_runs("30 * * * *", "Europe/Berlin", n=4, start=utc(2026, 10, 24, 23, 40))
    assert [r.at_local.isoformat() for r in runs] == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:30:00+01:00",
        "2026-10-25T03:30:00+01:00",
        "2026-10-25T04:30:00+01:00",
    ]
    assert "Chorus runs both: this is the first (CEST, UTC+02:00)." in runs[0].dst_note
    assert "this is the second (CET, UTC+01:00)" in runs[1].dst_note
    assert runs[1].at_utc - runs[0].at_utc == timedelta(hours=1)


def test_berlin_every_minute_in_utc_is_continuous_across_the_change():
    start = utc(2026, 3, 29, 0, 58)  # 01:58 CET, two minutes before the jump
    runs = next_runs("* * * * *", "Europe/Berlin", n=4, start=start)
    assert [r.at_utc for r in runs] == [start + timedelta(minutes=i) for i in range(1, 5)]
    assert [r.at_local.strftime("%H:%M") for r in runs] == ["01:59", "03:00", "03:01", "03:02"]
    assert "02:00, 02:01, 02:02 and 57 more do not exist" in runs[1].dst_note


# --- DST: America/New_York (spring 2026-03-08, fall 2026-11-01) --------------------------------
def test_new_york_spring_gap():
    start = utc(2026, 3, 7, 12)
    runs = next_runs("30 2 * * *", "America/New_York", n=3, start=start)
    assert [r.at_local.isoformat() for r in runs] == [
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:30:00-04:00",
        "2026-03-10T02:30:00-04:00",
    ]
    assert runs[0].dst_note == (
        "02:30 does not exist on Sun 08 Mar 2026 (clocks jump from 02:00 to 03:00); "
        "Chorus runs once at 03:00 EDT instead."
    )


def test_new_york_fall_back_runs_one_thirty_once():
    start = utc(2026, 10, 31, 12)
    runs = next_runs("30 1 * * *", "America/New_York", n=2, start=start)
    assert [r.at_local.isoformat() for r in runs] == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-02T01:30:00-05:00",
    ]
    assert "once, at the first (EDT, UTC-04:00)" in runs[0].dst_note
    assert runs[1].dst_note == ""


def test_new_york_two_am_daily_is_unaffected_in_fall():
    # 02:00 exists once on 2026-11-01 in New York (01:00-02:00 repeats, not 02:00).
    runs = next_runs("0 2 * * *", "America/New_York", n=2, start=utc(2026, 10, 31, 12))
    assert [r.at_utc for r in runs] == [utc(2026, 11, 1, 7), utc(2026, 11, 2, 7)]
    assert [r.dst_note for r in runs] == ["", ""]


# --- ticks ------------------------------------------------------------------------------------
def test_ticks_between_is_half_open_and_matches_preview():
    s = parse_schedule("*/30 * * * *")
    start, end = utc(2026, 10, 24, 23), utc(2026, 10, 25, 3)
    ticks = s.ticks_between(start, end, "Europe/Berlin")
    assert ticks[0] == utc(2026, 10, 24, 23, 30)  # start itself excluded
    assert ticks[-1] == end  # end included
    assert len(ticks) == 8  # no wall-clock repeat is lost or doubled in UTC
    assert ticks == [r.at_utc for r in next_runs(s, "Europe/Berlin", n=8, start=start)]
    assert s.ticks_between(start, end, "Europe/Berlin", limit=3) == ticks[:3]
    assert s.ticks_between(end, start, "Europe/Berlin") == []


def test_ticks_between_in_the_spring_gap():
    s = parse_schedule("30 2 * * *")
    ticks = s.ticks_between(utc(2026, 3, 28, 0), utc(2026, 3, 31, 0), "Europe/Berlin")
    assert ticks == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)]


def test_interval_ticks_are_aligned_to_the_epoch():
    s = parse_schedule("@every 10m")
    assert s.next_after(utc(2026, 3, 29, 0, 55, 3)) == utc(2026, 3, 29, 1, 0)
    assert s.next_after(utc(2026, 3, 29, 1, 0)) == utc(2026, 3, 29, 1, 10)
    ticks = s.ticks_between(utc(2026, 3, 29, 0, 50), utc(2026, 3, 29, 1, 20), "Europe/Berlin")
    assert ticks == [utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 1, 10), utc(2026, 3, 29, 1, 20)]
    runs = next_runs("@every 10m", "Europe/Berlin", n=2, start=utc(2026, 3, 29, 0, 45))
    # Ten real minutes apart although the wall clock jumps an hour between them.
    assert [r.at_local.strftime("%H:%M %Z") for r in runs] == ["01:50 CET", "03:00 CEST"]
    assert [r.dst_note for r in runs] == ["", ""]  # intervals run in absolute time


def test_next_after_and_latest_at_or_before():
    s = parse_schedule("0 2 * * *")
    assert s.next_after(utc(2026, 6, 1, 0), "Europe/Berlin") == utc(2026, 6, 2, 0)
    assert s.latest_at_or_before(utc(2026, 6, 2, 0), "Europe/Berlin") == utc(2026, 6, 2, 0)
    assert s.latest_at_or_before(utc(2026, 6, 2, 0, 0, 30), "Europe/Berlin") == utc(2026, 6, 2, 0)
    assert s.is_due(last=utc(2026, 6, 1, 0), now=utc(2026, 6, 2, 0), tz="Europe/Berlin")
    assert not s.is_due(last=utc(2026, 6, 2, 0), now=utc(2026, 6, 2, 23), tz="Europe/Berlin")
    i = parse_schedule("@every 2s")
    assert i.latest_at_or_before(utc(2026, 1, 1, 0, 0, 5)) == utc(2026, 1, 1, 0, 0, 4)
    with pytest.raises(ValueError, match="timezone-aware"):
        s.next_after(datetime(2026, 1, 1))
