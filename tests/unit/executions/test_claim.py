"""Claiming ticks and runs: exactly once, with the concurrency and deadline policies."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from deployments.executions.claims import Outcome, claim_and_prepare
from deployments.executions.ticks import TickTarget, execution_tick, fire_tick
from deployments.models import Execution

from .conftest import log_text

pytestmark = pytest.mark.django_db


def test_a_tick_is_claimed_once_however_often_it_is_fired(deploy):
    d = deploy()
    at = timezone.now().replace(microsecond=0)
    first = fire_tick(scheduled_for=at, targets=[TickTarget.of(d)])
    # A second beat, a restarted beat, a repeated message: the same tick again.
    again = fire_tick(scheduled_for=at, targets=[TickTarget.of(d)])
    via_task = execution_tick(deployment_id=d.pk, scheduled_for=at.isoformat())
    assert len(first.created) == 1 and first.dispatched == 1
    assert again.created == [] and again.dispatched == 0
    assert list(d.executions.values_list("pk", flat=True)) == first.created == [via_task.pk]
    e = via_task
    assert (e.status, e.trigger, e.attempt, e.due_at) == ("pending", "schedule", 1, at)
    assert e.image_ref == d.build.image_ref and e.build_id == d.build_id


def test_many_deployments_claim_the_same_tick_in_one_go(deploy, make_component):
    deployments = [deploy(component=make_component(f"task-{i}")) for i in range(5)]
    at = timezone.now().replace(microsecond=0)
    result = fire_tick(scheduled_for=at, targets=[TickTarget.of(d) for d in deployments])
    assert len(result.created) == 5
    for d in deployments:
        d.refresh_from_db()
        assert d.last_tick_at == at
        assert d.periodic_task.total_run_count == 1 and d.periodic_task.last_run_at is not None


def test_tick_without_time_claims_the_latest_tick(deploy):
    d = deploy("@every 1h")
    e = execution_tick(deployment_id=d.pk)
    now = timezone.now()
    assert e.scheduled_for <= now < e.scheduled_for + timedelta(hours=1)
    assert e.scheduled_for.minute == 0 and e.scheduled_for.second == 0
    assert execution_tick(deployment_id=d.pk).pk == e.pk


def test_a_suspended_deployment_records_its_ticks_as_skipped(deploy, tick):
    from deployments.deploy.services.state import deployment_suspend

    d = deploy()
    deployment_suspend(deployment=d, actor=None)
    e = tick(d)
    assert (e.status, e.reason) == ("skipped", "suspended")
    assert e.finished_at is not None


def test_a_redelivered_run_does_not_run_twice(deploy, tick, run):
    d = deploy()
    e = run(tick(d))
    assert e.outcome == Outcome.RAN and e.status == "succeeded"
    again = run(e)
    assert again.outcome == Outcome.NOT_PENDING
    assert log_text(e).count("record runtime: started") == 1


def test_claiming_the_same_executions_twice_claims_them_once(deploy, tick, make_component):
    ids = [tick(deploy(component=make_component(f"c{i}"))).pk for i in range(3)]
    first = claim_and_prepare(ids, worker="a")
    second = claim_and_prepare(ids, worker="b")
    assert all(not isinstance(v, str) for v in first.values())
    assert set(second.values()) == {Outcome.NOT_PENDING}
    assert set(Execution.objects.filter(pk__in=ids).values_list("worker", flat=True)) == {"a"}


def test_forbid_skips_a_tick_while_a_run_is_going(deploy, tick, run):
    d = deploy(policies={"concurrency_policy": "forbid"})
    busy = tick(d, seconds_ago=30)
    Execution.objects.filter(pk=busy.pk).update(status="running", started_at=timezone.now())
    e = run(tick(d))
    assert e.outcome == Outcome.SKIPPED
    assert e.status == "skipped"
    assert e.reason == f"overlap forbidden (execution #{busy.pk} still running)"


def test_forbid_within_one_batch_runs_the_older_and_skips_the_newer(deploy, tick):
    d = deploy(policies={"concurrency_policy": "forbid"})
    older, newer = tick(d, seconds_ago=2), tick(d, seconds_ago=1)
    results = claim_and_prepare([newer.pk, older.pk], worker="w")
    assert not isinstance(results[older.pk], str)
    assert results[newer.pk] == Outcome.SKIPPED
    newer.refresh_from_db()
    assert newer.reason == f"overlap forbidden (execution #{older.pk} still running)"


def test_replace_asks_the_running_one_to_stop_and_runs(deploy, tick, run):
    d = deploy(policies={"concurrency_policy": "replace"})
    busy = tick(d, seconds_ago=30)
    Execution.objects.filter(pk=busy.pk).update(status="running", started_at=timezone.now())
    e = run(tick(d))
    assert e.status == "succeeded"
    busy.refresh_from_db()
    assert busy.cancel_requested and busy.reason == f"replaced by execution #{e.pk}"


def test_allow_runs_overlapping_ticks(deploy, tick, run):
    d = deploy(policies={"concurrency_policy": "allow"})
    busy = tick(d, seconds_ago=30)
    Execution.objects.filter(pk=busy.pk).update(status="running", started_at=timezone.now())
    assert run(tick(d)).status == "succeeded"


def test_a_tick_no_worker_started_in_time_is_missed(deploy, tick, run):
    d = deploy(policies={"starting_deadline_seconds": 5})
    e = run(tick(d, seconds_ago=20))
    assert e.outcome == Outcome.MISSED and e.status == "missed"
    assert e.reason.startswith("starting deadline passed")
    assert "within 5 s" in e.reason


def test_a_late_tick_within_its_deadline_still_runs_and_says_how_late(deploy, tick, run):
    d = deploy(policies={"starting_deadline_seconds": 60})
    e = run(tick(d, seconds_ago=3))
    assert e.status == "succeeded"
    assert 3 <= e.fire_lag_seconds < 10
