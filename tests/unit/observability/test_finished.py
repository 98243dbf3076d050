"""Finished executions folded in batches through the Redis list (services/finished.py): the
rollups stay exact, a drain that dies leaves its ids to the next one without counting twice,
and alerts still open once and recover once."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from deployments.models import Execution
from observability import hooks
from observability.models import DeploymentTotals, HourlyRollup, Incident
from observability.services import finished
from observability.services.alert_config import alert_channel_create, alert_rule_create
from observability.services.rollups import aggregate_raw, hour_floor, rollup_recompute_range
from tests.support.obs import make_component, make_deployment, make_execution

pytestmark = pytest.mark.django_db

H = dt.timedelta(hours=1)


@pytest.fixture
def client():
    c = finished.redis_client()
    assert c is not None, "the suite runs with a Redis broker"
    c.delete(finished.QUEUE, finished.SCHEDULED, finished.LOCK)
    yield c
    c.delete(finished.QUEUE, finished.SCHEDULED, finished.LOCK)


@pytest.fixture
def deployments(project):
    return [make_deployment(make_component(project, f"job-{i}")) for i in range(6)]


def _finish_many(deployments, per_deployment: int) -> list[Execution]:
    """Runs of every deployment spread over the last two hours, of every final kind."""
    now = hour_floor(timezone.now())
    statuses = ["succeeded", "failed", "succeeded", "timed_out", "missed", "partial"]
    return [
        make_execution(
            d,
            statuses[(i + j) % len(statuses)],
            scheduled_for=now - H + dt.timedelta(minutes=7 * i + j),
            duration=0.2 * (i + 1),
            lag=0.05 * j,
        )
        for i in range(per_deployment)
        for j, d in enumerate(deployments)
    ]


def _rollups() -> dict:
    return {
        (r.deployment_id, r.hour): (r.total, r.failed, r.duration_count, r.duration_hist)
        for r in HourlyRollup.objects.all()
    }


def _assert_rollups_equal_raw_rows(executions) -> None:
    fresh = aggregate_raw(Execution.objects.all())
    stored = {(r.deployment_id, r.hour): r for r in HourlyRollup.objects.all()}
    assert set(stored) == set(fresh)
    for key, fields in fresh.items():
        row = stored[key]
        for f in ("succeeded", "failed", "timed_out", "missed", "partial", "duration_count"):
            assert getattr(row, f) == fields[f], (key, f)
        assert row.duration_hist == fields["duration_hist"]
        assert row.lag_hist == fields["lag_hist"]
    assert sum(r.total for r in stored.values()) == len(executions)
    assert sum(t.total for t in DeploymentTotals.objects.all()) == len(executions)
    # A recompute from raw rows finds nothing to change.
    assert rollup_recompute_range(start=hour_floor(timezone.now()) - 3 * H) == 0


def test_the_hook_lists_ids_and_one_drain_folds_them_all(client, deployments):
    executions = _finish_many(deployments, 10)
    for e in executions:
        hooks.execution_finished(e.pk)
    assert client.llen(finished.QUEUE) == len(executions)
    assert client.get(finished.SCHEDULED)  # one drain is scheduled, not one task per run

    assert finished.finished_drain(client=client) == len(executions)
    assert client.llen(finished.QUEUE) == 0
    _assert_rollups_equal_raw_rows(executions)


def test_a_drain_that_dies_before_trimming_leaves_its_ids_and_nothing_counts_twice(
    client, deployments, monkeypatch
):
    executions = _finish_many(deployments, 5)
    finished.finished_enqueue(execution_ids=[e.pk for e in executions], client=client)

    def die(*args):
        raise SystemExit("worker killed after the fold, before the list was trimmed")

    with monkeypatch.context() as m:
        m.setattr(client, "ltrim", die)
        with pytest.raises(SystemExit):
            finished.finished_drain(client=client)
    assert HourlyRollup.objects.exists()  # the batch was folded
    assert client.llen(finished.QUEUE) == len(executions)
    assert client.get(finished.LOCK) is None  # released: the next drain need not wait

    assert finished.finished_drain(client=client) == len(executions)
    assert client.llen(finished.QUEUE) == 0
    _assert_rollups_equal_raw_rows(executions)


def test_a_drain_finding_another_at_work_leaves_the_list_and_schedules_a_later_one(
    client, deployments
):
    executions = _finish_many(deployments, 2)
    finished.finished_enqueue(execution_ids=[e.pk for e in executions], client=client)
    client.delete(finished.SCHEDULED)
    holder = client.lock(finished.LOCK, timeout=60, blocking=False)
    assert holder.acquire()
    try:
        assert finished.finished_drain(client=client) == 0
        assert client.llen(finished.QUEUE) == len(executions)
        assert client.get(finished.SCHEDULED)
    finally:
        holder.release()
    assert not HourlyRollup.objects.exists()


def test_a_batch_costs_a_handful_of_queries_whatever_its_size(deployments):
    executions = _finish_many(deployments, 10)
    with CaptureQueriesContext(connection) as few:
        finished.executions_finished_fold(execution_ids=[e.pk for e in executions[:6]])
    with CaptureQueriesContext(connection) as many:
        finished.executions_finished_fold(execution_ids=[e.pk for e in executions])
    assert len(many) == len(few) <= 12
    _assert_rollups_equal_raw_rows(executions)


def test_alerts_in_a_batch_open_once_and_recover_once_in_tick_order(project, alice, deployments):
    channel = alert_channel_create(
        project=project, actor=alice, name="ops", kind="email", email_addresses="ops@example.com"
    )
    ruled = deployments[0]
    alert_rule_create(component=ruled.component, actor=alice, kind="on_failure", channel=channel)
    start = hour_floor(timezone.now())
    failures = [
        make_execution(ruled, "failed", scheduled_for=start + dt.timedelta(minutes=1)),
        make_execution(ruled, "failed", scheduled_for=start + dt.timedelta(minutes=1), attempt=2),
        make_execution(ruled, "failed", scheduled_for=start + dt.timedelta(minutes=2)),
    ]
    others = [make_execution(d, "failed", scheduled_for=start) for d in deployments[1:]]
    # The batch lists them out of order, as hooks of racing workers would.
    batch = [failures[2].pk, others[0].pk, failures[1].pk, failures[0].pk]
    finished.executions_finished_fold(execution_ids=batch + [o.pk for o in others[1:]])
    assert [m.subject.split(" ")[1] for m in mail.outbox] == ["ALERT"]
    assert Incident.objects.get().opened_by_id == failures[0].pk

    ok = make_execution(ruled, "succeeded", scheduled_for=start + dt.timedelta(minutes=3))
    finished.executions_finished_fold(execution_ids=[ok.pk, *batch])
    assert [m.subject.split(" ")[1] for m in mail.outbox] == ["ALERT", "RECOVERED"]
    incident = Incident.objects.get()
    assert (incident.deployment_id, incident.status) == (ruled.pk, "closed")
    assert incident.closed_by_id == ok.pk
    # Folding the same batch again (a drain that died before trimming) sends nothing more.
    finished.executions_finished_fold(execution_ids=[ok.pk, *batch])
    assert len(mail.outbox) == 2


def test_the_embedded_broker_sends_one_task_per_run(settings, monkeypatch, client, deployments):
    from observability import tasks

    settings.CELERY_BROKER_URL = "filesystem://"
    sent = []
    monkeypatch.setattr(tasks.execution_finished_task, "delay", sent.append)
    e = _finish_many(deployments[:1], 1)[0]
    hooks.execution_finished(e.pk)
    assert sent == [e.pk]
    assert client.llen(finished.QUEUE) == 0


def test_a_run_of_a_deployment_with_a_rule_is_evaluated_at_once_not_behind_the_drains(
    project, alice, client, deployments, monkeypatch
):
    from observability import tasks

    channel = alert_channel_create(
        project=project, actor=alice, name="ops", kind="email", email_addresses="ops@example.com"
    )
    ruled = deployments[0]
    alert_rule_create(component=ruled.component, actor=alice, kind="on_failure", channel=channel)
    sent = []
    monkeypatch.setattr(tasks.evaluate_alerts_task, "delay", sent.append)
    start = hour_floor(timezone.now())
    failed = make_execution(ruled, "failed", scheduled_for=start)
    other = make_execution(deployments[1], "failed", scheduled_for=start)
    hooks.execution_finished(failed.pk)
    hooks.execution_finished(other.pk)
    # Its evaluation went at once; the run without a rule costs no task; both await the drain
    # for their rollups.
    assert sent == [[failed.pk]]
    assert client.llen(finished.QUEUE) == 2
