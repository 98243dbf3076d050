"""A deployment's DST rule overrides cron's (chosen by the hour field); beat, catch-up and the
preview follow the override alike."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tests.unit.executions.test_dst_ticks import BERLIN, beat, caught_up, planned, utc  # noqa: F401

pytestmark = pytest.mark.django_db


def preview(d, since, n):
    """What the deployment's preview lists after `since` (the Deploy tab parses the same way)."""
    from deployments.schedules.preview import next_runs

    return [r.at_utc for r in next_runs(d.parsed_schedule(), d.timezone, n, since)]


def test_every_occurrence_makes_a_fixed_hour_run_twice_when_clocks_go_back(deploy, beat):  # noqa: F811
    d = deploy(
        "30 2 * * *",
        timezone="Europe/Berlin",
        policies={"catchup_policy": "none", "dst_rule": "every"},
    )
    assert d.dst_rule == "every"
    since, until = utc(2026, 10, 24, 12), utc(2026, 10, 25, 12)
    ticks = planned(beat, d, since, until)
    assert ticks == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)]  # 02:30 CEST and CET
    assert preview(d, since, 2) == ticks
    assert caught_up(d, ticks[0], now=until) == ticks
    # And on the day the clocks jump, 02:30 never happens: no run that night.
    d.executions.all().delete()
    assert planned(beat, d, utc(2026, 3, 28, 12), utc(2026, 3, 29, 12)) == []


def test_once_makes_a_wildcard_hour_run_each_wall_time_once(deploy, beat):  # noqa: F811
    d = deploy(
        "0 * * * *",
        timezone="Europe/Berlin",
        policies={"catchup_policy": "none", "dst_rule": "once"},
    )
    since, until = utc(2026, 10, 24, 23, 30), utc(2026, 10, 25, 2, 30)
    ticks = planned(beat, d, since, until)
    local = [t.astimezone(BERLIN).strftime("%H:%M%z") for t in ticks]
    assert local == ["02:00+0200", "03:00+0100"]  # 02:00 once, at the first
    assert preview(d, since, 2) == ticks
    assert caught_up(d, ticks[0], now=until) == ticks


def test_a_bad_dst_rule_is_refused(deploy):
    with pytest.raises(ValidationError) as exc:
        deploy("0 2 * * *", policies={"dst_rule": "sometimes"})
    assert "DST rule must be one of: cron, every, once" in " ".join(exc.value.messages)
