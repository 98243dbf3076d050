"""Ticks missed while no beat ran: recorded as missed or run as catch-ups, never lost.

Drives ChorusScheduler's own loop (`_chorus_tick`) against the database, as a beat coming back
after an outage would: the deployment's last handled tick is in the past.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from deployments.models import Execution

pytestmark = pytest.mark.django_db


@pytest.fixture
def beat():
    from deployments.executions.scheduler import ChorusScheduler
    from portal.celery import app

    return ChorusScheduler(app=app, lazy=True)


def went_down(deployment, seconds: float):
    """The scheduler last handled this deployment `seconds` ago (an outage since)."""
    from django_celery_beat.models import PeriodicTask

    ago = (timezone.now() - timedelta(seconds=seconds)).replace(microsecond=0)
    type(deployment).objects.filter(pk=deployment.pk).update(last_tick_at=ago)
    PeriodicTask.objects.filter(pk=deployment.periodic_task_id).update(last_run_at=ago)
    return ago


def rows(deployment):
    return list(deployment.executions.order_by("scheduled_for"))


def assert_every_tick_once(deployment, since):
    """One row per tick after `since` up to the last row: no gap, no duplicate."""
    from deployments.schedules.parsing import parse_schedule

    got = rows(deployment)
    times = [e.scheduled_for for e in got]
    assert len(times) == len(set(times))
    assert times == parse_schedule(deployment.schedule).ticks_between(since, times[-1])
    return got


def test_none_records_each_missed_tick_as_missed(deploy, beat):
    d = deploy("@every 2s", policies={"catchup_policy": "none", "starting_deadline_seconds": 1})
    since = went_down(d, 12)
    beat._chorus_tick()
    got = assert_every_tick_once(d, since)
    late = [e for e in got if e.scheduled_for < timezone.now() - timedelta(seconds=2)]
    assert len(late) >= 4
    for e in late:
        assert e.status == "missed" and e.trigger == "schedule"
        assert e.reason.startswith("scheduler down")
    d.refresh_from_db()
    assert d.last_tick_at == got[-1].scheduled_for


def test_latest_runs_only_the_most_recent_missed_tick(deploy, beat):
    d = deploy("@every 2s", policies={"catchup_policy": "latest", "starting_deadline_seconds": 1})
    since = went_down(d, 12)
    looked = timezone.now()
    beat._chorus_tick()
    got = assert_every_tick_once(d, since)
    # Ticks after beat came back (sent ahead of time) are not part of the outage.
    past = [e for e in got if e.scheduled_for <= looked]
    catchups = [e for e in past if e.trigger == "catchup"]
    fresh = [e for e in past if e.status == "pending" and e.trigger == "schedule"]
    missed = [e for e in past if e.status == "missed"]
    # Either the newest tick was still fresh (it runs, nothing to catch up) or exactly one
    # catch-up runs, for the newest late tick.
    assert len(catchups) + len(fresh) == 1
    assert (catchups or fresh)[0].scheduled_for == past[-1].scheduled_for
    assert (catchups or fresh)[0].status == "pending"
    assert len(missed) == len(past) - 1 >= 4
    assert all("only the latest" in e.reason for e in missed)


def test_all_catches_up_within_the_window_and_records_older_ones(deploy, beat):
    d = deploy(
        "@every 10s",
        policies={
            "catchup_policy": "all",
            "starting_deadline_seconds": 1,
            "catchup_window_seconds": 60,
        },
    )
    since = went_down(d, 125)
    beat._chorus_tick()
    got = assert_every_tick_once(d, since)
    now = timezone.now()
    for e in got:
        age = (now - e.scheduled_for).total_seconds()
        if 55 < age < 65:
            continue  # at the window's edge, depending on when beat looked
        if age > 60:
            assert e.status == "missed" and "catch-up window (60 s)" in e.reason
        elif age > 2:
            assert (e.status, e.trigger) == ("pending", "catchup")
            assert e.due_at >= now - timedelta(seconds=5)
    assert sum(e.trigger == "catchup" for e in got) >= 5


def test_a_new_schedule_does_not_count_ticks_from_before_it(deploy, beat):
    d = deploy("@every 2s")
    # Deployed now with no tick handled: nothing before the deploy is "missed".
    beat._chorus_tick()
    assert not Execution.objects.filter(deployment=d, status="missed").exists()


def test_a_long_outage_is_summarised_not_listed_forever(deploy, beat):
    d = deploy("@every 1s", policies={"catchup_policy": "none", "starting_deadline_seconds": 1})
    since = went_down(d, 3 * 3600)
    started = timezone.now()
    beat._chorus_tick()
    got = [e for e in rows(d) if e.scheduled_for <= timezone.now()]
    # 1000 missed ticks one by one, one summary row, the fresh tick(s) within the deadline
    # (one more for every second the tick took on a busy machine).
    slow = int((timezone.now() - started).total_seconds())
    assert 1001 <= len(got) <= 1004 + slow
    assert sum(e.status == "missed" for e in got) >= 1000
    summary = got[0]
    assert summary.scheduled_for == since + timedelta(seconds=1)
    assert summary.status == "missed"
    assert summary.status == "missed" and "were missed (not listed one by one)" in summary.reason
    d.refresh_from_db()
    assert d.last_tick_at >= timezone.now() - timedelta(seconds=3)


def test_the_plan_follows_schedule_changes(deploy, beat, component, dev):
    from deployments.deploy.services.lifecycle import deployment_deploy

    d = deploy("@every 2s")
    beat._chorus_tick()
    assert beat._entries[d.pk].schedule.interval_seconds == 2
    deployment_deploy(
        component=component, environment=dev, build=d.build, schedule="*/5 * * * *",
        timezone="Europe/Berlin", actor=None,
    )  # fmt: skip
    # What the change marker (PeriodicTasks.last_update) triggers in a running beat; the
    # marker itself is exercised with real beat processes (tests/integration/executions).
    beat._plan_dirty = True
    beat._chorus_tick()
    entry = beat._entries[d.pk]
    assert entry.schedule.cron == "*/5 * * * *" and entry.tz == "Europe/Berlin"
    assert entry.next_ts > timezone.now().timestamp()
    assert not Execution.objects.filter(deployment=d, status="missed").exists()
