"""What beat fires across DST changes in Europe/Berlin, through ChorusScheduler's own plan.

The beat's plan (`_load_plan`, then `_next_ts` after each tick, as `_fire` does) and the rows a
returning beat records (`catch_up`) follow cron's rule: a fixed hour runs once on the day the
clocks go back and once on the day they jump; a wildcard hour runs at every real occurrence.
They agree with the preview a user sees.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from deployments.schedules.preview import next_runs

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


def utc(*a) -> datetime:
    return datetime(*a, tzinfo=UTC)


@pytest.fixture
def beat():
    from deployments.executions.scheduler import ChorusScheduler
    from portal.celery import app

    return ChorusScheduler(app=app, lazy=True)


def planned(beat, deployment, since: datetime, until: datetime) -> list[datetime]:
    """The ticks beat plans for `deployment` after `since` (its last handled tick) to `until`."""
    from django_celery_beat.models import PeriodicTask

    type(deployment).objects.filter(pk=deployment.pk).update(last_tick_at=since)
    PeriodicTask.objects.filter(pk=deployment.periodic_task_id).update(last_run_at=since)
    beat._entries.clear()  # as a beat starting now: plan from the last handled tick
    beat._load_plan()
    entry = beat._entries[deployment.pk]
    out = []
    while (tick := datetime.fromtimestamp(entry.next_ts, UTC)) <= until:
        out.append(tick)
        entry.next_ts = beat._next_ts(entry, tick)
    return out


def caught_up(deployment, first: datetime, now: datetime) -> list[datetime]:
    """The rows a beat coming back at `now` records for the ticks from `first`."""
    from deployments.executions.ticks import catch_up

    catch_up(deployment_id=deployment.pk, first_tick=first, now=now)
    rows = list(deployment.executions.order_by("scheduled_for"))
    assert all(e.status == "missed" for e in rows)
    return [e.scheduled_for for e in rows]


def preview(deployment, since: datetime, n: int) -> list[datetime]:
    return [r.at_utc for r in next_runs(deployment.schedule, deployment.timezone, n, since)]


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        # Clocks go back at 03:00 CEST on 25 Oct 2026: 02:30 happens twice, runs once.
        (
            utc(2026, 10, 23, 12),
            utc(2026, 10, 26, 12),
            [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)],
        ),
        # Clocks jump from 02:00 to 03:00 on 29 Mar 2026: 02:30 runs once, at 03:00 CEST.
        (
            utc(2026, 3, 27, 12),
            utc(2026, 3, 30, 12),
            [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)],
        ),
    ],
    ids=["fall-back", "spring-forward"],
)
def test_a_fixed_hour_runs_once_on_the_change_day(deploy, beat, since, until, expected):
    d = deploy("30 2 * * *", timezone="Europe/Berlin", policies={"catchup_policy": "none"})
    assert planned(beat, d, since, until) == expected
    assert preview(d, since, 3) == expected
    assert caught_up(d, expected[0], now=until) == expected


def test_a_wildcard_hour_runs_at_every_real_quarter_hour(deploy, beat):
    d = deploy("*/15 * * * *", timezone="Europe/Berlin", policies={"catchup_policy": "none"})
    # 01:50 CEST to 03:10 CET on 25 Oct 2026: 02:00-02:45 happen twice and run twice.
    since, until = utc(2026, 10, 24, 23, 50), utc(2026, 10, 25, 2, 10)
    ticks = planned(beat, d, since, until)
    local = [t.astimezone(BERLIN).strftime("%H:%M%z") for t in ticks]
    assert local == [
        "02:00+0200", "02:15+0200", "02:30+0200", "02:45+0200",
        "02:00+0100", "02:15+0100", "02:30+0100", "02:45+0100",
        "03:00+0100",
    ]  # fmt: skip
    assert preview(d, since, len(ticks)) == ticks
    assert caught_up(d, ticks[0], now=until) == ticks
    # 29 Mar 2026: 02:00-02:45 never happen; the run after 01:45 CET is 03:00 CEST.
    d.executions.all().delete()
    since, until = utc(2026, 3, 29, 0, 40), utc(2026, 3, 29, 1, 20)
    ticks = planned(beat, d, since, until)
    assert [t.astimezone(BERLIN).strftime("%H:%M%z") for t in ticks] == [
        "01:45+0100", "03:00+0200", "03:15+0200",
    ]  # fmt: skip
    assert preview(d, since, len(ticks)) == ticks
    assert caught_up(d, ticks[0], now=until) == ticks
