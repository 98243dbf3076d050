"""`H` in a cron field: a value from a hash of the deployment, the same for beat, catch-up,
the preview and the run's context, stable across redeploys, different between deployments."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from deployments.schedules.parsing import parse_schedule, schedule_seed
from tests.unit.executions.test_dst_ticks import beat, caught_up, planned, utc  # noqa: F401

pytestmark = pytest.mark.django_db


def minute_of(deployment) -> int:
    return int(deployment.parsed_schedule().cron.split(" ")[0])


def test_h_is_one_stable_minute_per_deployment_and_beat_fires_it(deploy, beat, make_build):  # noqa: F811
    d = deploy("H 2 * * *", timezone="Europe/Berlin", policies={"catchup_policy": "none"})
    minute = minute_of(d)
    # Parsing again (a restart) or redeploying another build keeps the same minute.
    assert parse_schedule("H 2 * * *", d.schedule_seed).cron == f"{minute} 2 * * *"
    d2 = deploy("H 2 * * *", timezone="Europe/Berlin", build=make_build(component=d.component))
    assert d2.pk == d.pk and minute_of(d2) == minute
    # Beat, catch-up and the preview agree on it, across the October DST change too.
    since, until = utc(2026, 10, 23, 12), utc(2026, 10, 26, 12)
    expected = [utc(2026, 10, 24, 0, minute), utc(2026, 10, 25, 0, minute)]
    expected.append(utc(2026, 10, 26, 1, minute))
    assert planned(beat, d, since, until) == expected
    from deployments.deploy.selectors import schedule_preview
    from deployments.schedules.preview import next_runs

    runs = next_runs(d.parsed_schedule(), d.timezone, 3, since)
    assert [r.at_utc for r in runs] == expected
    page = schedule_preview(d.schedule, d.timezone, seed=d.schedule_seed)
    assert page.cron == f"{minute} 2 * * *"
    assert page.words == f"At 02:{minute:02d}"
    assert caught_up(d, expected[0], now=until) == expected


def test_h_step_spreads_a_quarter_hour_schedule(deploy, beat):  # noqa: F811
    d = deploy("H/15 * * * *", policies={"catchup_policy": "none"})
    first = int(d.parsed_schedule().cron.split(" ")[0].split(",")[0])
    assert 0 <= first < 15
    assert d.parsed_schedule().cron == f"{first},{first + 15},{first + 30},{first + 45} * * * *"
    since, until = utc(2026, 5, 1, 10), utc(2026, 5, 1, 11)
    assert planned(beat, d, since, until) == [utc(2026, 5, 1, 10, first + 15 * k) for k in range(4)]


def test_different_deployments_spread_over_the_hour():
    minutes = {
        parse_schedule("H 2 * * *", schedule_seed("acme", f"job-{i}", "prod")).cron.split()[0]
        for i in range(100)
    }
    # A hundred nightly jobs: spread over many minutes, not all at 02:00.
    assert len(minutes) > 40
    # The environment is part of the seed: staging and prod of one job differ (mostly).
    per_env = {
        parse_schedule("H H * * *", schedule_seed("acme", "job", env)).cron
        for env in ("dev", "staging", "prod")
    }
    assert len(per_env) > 1


def test_h_within_a_range_and_with_a_step_in_the_hour():
    seed = schedule_seed("acme", "job", "prod")
    for _ in range(3):
        assert int(parse_schedule("H(0-29) * * * *", seed).cron.split()[0]) in range(30)
    hours = parse_schedule("0 H/6 * * *", seed).cron.split()[1]
    start = int(hours.split("-")[0])
    assert hours == f"{start}-23/6" and 0 <= start < 6  # a step: DST runs every occurrence


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("H * H * *", "minute and hour fields only"),
        ("H/0 * * * *", "step of H must be between 1 and 60"),
        ("H(30-10) * * * *", "range of H must lie within 0-59"),
        ("0 H(0-30) * * *", "range of H must lie within 0-23"),
        ("H5 * * * *", "H stands alone or as H/15"),
    ],
)
def test_bad_h_is_refused_with_the_reason(expr, reason):
    with pytest.raises(ValidationError) as exc:
        parse_schedule(expr, "acme/job/prod")
    assert reason in " ".join(exc.value.messages)


def test_thursday_is_not_a_spread_value():
    assert parse_schedule("0 2 * * THU").cron == "0 2 * * thu"
