"""The reconciler without containers (the record runtime leaves none), and history retention.
Worker loss with a real container: tests/integration/faults/test_worker_killed.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from deployments.executions.reconcile import reconcile
from deployments.executions.retention import executions_cleanup
from deployments.models import Execution

from .conftest import log_text

pytestmark = pytest.mark.django_db


def test_a_running_execution_whose_worker_stopped_beating_fails_as_worker_lost(deploy, tick):
    d = deploy(policies={"max_retries": 1, "retry_delay_seconds": 5})
    e = tick(d, seconds_ago=120)
    old = timezone.now() - timedelta(seconds=90)
    Execution.objects.filter(pk=e.pk).update(status="running", started_at=old, heartbeat_at=old)
    alive = tick(d, seconds_ago=5)
    Execution.objects.filter(pk=alive.pk).update(
        status="running", started_at=timezone.now(), heartbeat_at=timezone.now()
    )
    report = reconcile(containers=False)
    e.refresh_from_db()
    alive.refresh_from_db()
    assert report.worker_lost == [e.pk]
    assert (e.status, e.reason) == ("failed", "worker lost")
    assert "[chorus] failed" in log_text(e) and "worker lost" in log_text(e)
    assert alive.status == "running"
    # Losing the worker is a failure like any other: the retry policy applies.
    retry = Execution.objects.get(deployment=d, scheduled_for=e.scheduled_for, attempt=2)
    assert (retry.trigger, retry.status) == ("retry", "pending")


def test_a_tick_no_worker_ever_picked_up_is_recorded_as_missed(deploy, tick):
    d = deploy(policies={"starting_deadline_seconds": 10})
    waiting = tick(d, seconds_ago=120)
    recent = tick(d, seconds_ago=5)
    report = reconcile(containers=False)
    waiting.refresh_from_db()
    recent.refresh_from_db()
    assert report.missed == [waiting.pk]
    assert waiting.status == "missed"
    assert waiting.reason == "starting deadline passed: no worker picked it up within 10 s"
    assert recent.status == "pending"


def test_retries_kept_off_the_broker_are_dispatched_when_due(deploy, tick):
    d = deploy()
    e = tick(d, seconds_ago=60)
    retry = Execution.objects.create(
        deployment=d,
        scheduled_for=e.scheduled_for,
        attempt=2,
        trigger="retry",
        status="pending",
        due_at=timezone.now() + timedelta(seconds=5),
        image_ref=e.image_ref,
    )
    later = Execution.objects.create(
        deployment=d,
        scheduled_for=e.scheduled_for,
        attempt=3,
        trigger="retry",
        status="pending",
        due_at=timezone.now() + timedelta(hours=3),
        image_ref=e.image_ref,
    )
    report = reconcile(containers=False)
    retry.refresh_from_db()
    later.refresh_from_db()
    assert retry.pk in report.dispatched and retry.celery_task_id
    assert later.pk not in report.dispatched and later.celery_task_id == ""


def _run_messages(broker) -> list[dict]:
    import json

    return [json.loads(m)["headers"] for m in broker.lrange("executions", 0, -1)]


def test_a_tick_whose_message_was_lost_is_sent_again_once(deploy, tick):
    """A beat stopped after claiming a tick, or a worker held its message when the broker went
    away: the tick would wait for its deadline and be missed. The reconciler sends it again."""
    import os

    import redis

    broker = redis.Redis.from_url(os.environ["REDIS_URL"])
    d = deploy(policies={"starting_deadline_seconds": 600})
    lost = tick(d, seconds_ago=60)
    recent = tick(d, seconds_ago=2)
    broker.delete("executions")  # the messages of both ticks are gone
    report = reconcile(containers=False)
    lost.refresh_from_db()
    recent.refresh_from_db()
    assert report.dispatched == [lost.pk] and report.missed == []
    assert lost.status == "pending" and lost.celery_task_id.startswith("resent-")
    (message,) = _run_messages(broker)
    assert message["argsrepr"] == f"({lost.pk},)" and message["id"] == lost.celery_task_id
    # Once: a tick still pending after its message was sent again is left to its deadline.
    broker.delete("executions")
    assert reconcile(containers=False).dispatched == []
    assert _run_messages(broker) == []


def test_a_tick_the_broker_refused_is_sent_by_a_later_pass(deploy, tick, monkeypatch):
    import os

    import redis
    from kombu.exceptions import OperationalError

    from deployments.executions import dispatch

    broker = redis.Redis.from_url(os.environ["REDIS_URL"])
    d = deploy(policies={"starting_deadline_seconds": 600})
    lost = tick(d, seconds_ago=60)
    broker.delete("executions")

    def refused(items):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(dispatch, "publish_runs", refused)
    assert reconcile(containers=False).dispatched == []
    lost.refresh_from_db()
    assert lost.status == "pending" and lost.celery_task_id == ""
    monkeypatch.undo()
    assert reconcile(containers=False).dispatched == [lost.pk]
    (message,) = _run_messages(broker)
    assert message["argsrepr"] == f"({lost.pk},)"
    broker.delete("executions")


def test_retention_keeps_the_last_successes_and_failures(deploy, tick):
    d = deploy(policies={"keep_successes": 2, "keep_failures": 1, "keep_days": 30})
    now = timezone.now()

    def make(status, minutes_ago):
        return Execution.objects.create(
            deployment=d,
            scheduled_for=now - timedelta(minutes=minutes_ago),
            status=status,
            finished_at=now,
        )

    ok = [make("succeeded", m) for m in (1, 2, 3, 4)]
    bad = [make("failed", 5), make("timed_out", 6), make("missed", 7)]
    running = make("running", 50)
    ancient = make("succeeded", 60 * 24 * 40)
    deleted = executions_cleanup(deployment=d)
    left = set(Execution.objects.filter(deployment=d).values_list("pk", flat=True))
    assert left == {ok[0].pk, ok[1].pk, bad[0].pk, running.pk}
    assert deleted == 5
    assert ancient.pk not in left
