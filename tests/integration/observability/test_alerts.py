"""Alerts reach a real HTTP receiver: once per incident, one recovery, missed ticks, delivery log."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from observability import hooks
from observability.models import AlertDelivery, HourlyRollup, Incident
from observability.services.alert_config import alert_channel_create, alert_rule_create
from observability.services.alerts import alerts_check_running
from observability.services.delivery import alerts_send_pending
from observability.tasks import execution_finished_task
from tests.support.obs import make_component, make_deployment, make_execution

pytestmark = pytest.mark.integration

T0 = timezone.now().replace(microsecond=0) - dt.timedelta(hours=1)


def tick(i: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=i)


@pytest.fixture
def component(project):
    return make_component(project)


@pytest.fixture
def deployment(component):
    return make_deployment(component, env="prod", max_retries=2)


@pytest.fixture
def webhook(project, alice, receiver):
    return alert_channel_create(
        project=project, actor=alice, name="slack", kind="webhook", webhook_url=receiver.url
    )


def run(deployment, status, i, attempt=1, **kw):
    """An execution reaching a final status, followed by the hook's task (as the worker would)."""
    e = make_execution(
        deployment,
        status,
        scheduled_for=tick(i),
        attempt=attempt,
        trigger="retry" if attempt > 1 else "schedule",
        **kw,
    )
    execution_finished_task(e.pk)
    return e


@pytest.mark.django_db
def test_failing_with_retries_is_one_incident_then_one_recovery(
    deployment, component, webhook, alice, receiver
):
    alert_rule_create(component=component, actor=alice, kind="on_failure", channel=webhook)
    # Tick 1 fails, and so do both retries; tick 2 fails again: still the same incident.
    for attempt in (1, 2, 3):
        run(deployment, "failed", 1, attempt=attempt, exit_code=3)
    run(deployment, "timed_out", 2)
    assert len(receiver.texts) == 1
    alert = receiver.texts[0]
    assert "payments/nightly-report (Production)" in alert
    assert "run failed with exit code 3" in alert
    assert receiver.messages[0]["content_type"] == "application/json"
    assert receiver.messages[0]["path"] == "/hooks/T000/B000/secret"

    run(deployment, "succeeded", 3)
    run(deployment, "succeeded", 4)  # already recovered: nothing more
    assert len(receiver.texts) == 2
    assert "recovered" in receiver.texts[1]

    # A new failure is a new incident, with its own single alert.
    run(deployment, "failed", 5)
    run(deployment, "failed", 5, attempt=2)
    assert len(receiver.texts) == 3 and "run failed" in receiver.texts[2]

    incidents = Incident.objects.order_by("opened_at")
    assert [i.status for i in incidents] == ["closed", "open"]
    deliveries = AlertDelivery.objects.order_by("created_at")
    assert [d.kind for d in deliveries] == ["alert", "recovery", "alert"]
    assert all(d.status == "sent" and d.status_code == 200 for d in deliveries)


@pytest.mark.django_db
def test_a_missed_tick_alerts(deployment, component, webhook, alice, receiver):
    alert_rule_create(component=component, actor=alice, kind="missed_tick", channel=webhook)
    run(deployment, "succeeded", 1)
    run(deployment, "missed", 2, reason="scheduler was down")
    run(deployment, "missed", 3, reason="scheduler was down")
    assert (
        receiver.texts == [receiver.texts[0]]
        and "missed a tick: scheduler was down" in receiver.texts[0]
    )
    run(deployment, "succeeded", 4)
    assert len(receiver.texts) == 2 and "recovered" in receiver.texts[1]


@pytest.mark.django_db
def test_a_tick_with_no_run_recorded_alerts_once(component, webhook, alice, receiver):
    """The scheduler is down: nothing records the missed tick, yet someone is told."""
    from deployments.models import Deployment
    from observability.services.alerts import alerts_check_overdue

    d = make_deployment(component, env="prod", schedule="@every 1m", starting_deadline_seconds=30)
    now = timezone.now()
    Deployment.objects.filter(pk=d.pk).update(
        created_at=now - dt.timedelta(hours=1), last_tick_at=now - dt.timedelta(seconds=70)
    )
    alert_rule_create(component=component, actor=alice, kind="missed_tick", channel=webhook)
    # The tick a minute ago is still within its starting deadline + grace: not yet overdue.
    alerts_check_overdue(now=now)
    assert receiver.texts == []
    later = now + dt.timedelta(minutes=3)
    alerts_check_overdue(now=later)
    alerts_check_overdue(now=later + dt.timedelta(minutes=1))
    assert len(receiver.texts) == 1
    assert "no run was recorded for the tick at" in receiver.texts[0]
    assert "is the scheduler running?" in receiver.texts[0]
    # Ticks run again: one recovery message.
    run(d, "succeeded", 59)
    assert len(receiver.texts) == 2 and "recovered" in receiver.texts[1]


@pytest.mark.django_db
def test_consecutive_failures_count_ticks_not_retries(
    deployment, component, webhook, alice, receiver
):
    alert_rule_create(
        component=component, actor=alice, kind="consecutive_failures", threshold=2, channel=webhook
    )
    run(deployment, "failed", 1)
    run(deployment, "failed", 1, attempt=2)
    run(deployment, "failed", 1, attempt=3)
    assert receiver.texts == []  # one failed tick, retried twice, is not 2 failed ticks
    run(deployment, "failed", 2)
    assert len(receiver.texts) == 1 and "2 consecutive ticks failed" in receiver.texts[0]
    run(deployment, "succeeded", 3)
    assert len(receiver.texts) == 2 and "recovered" in receiver.texts[1]


@pytest.mark.django_db
def test_a_late_hook_message_does_not_reopen_a_recovered_deployment(
    deployment, component, webhook, alice, receiver
):
    alert_rule_create(component=component, actor=alice, kind="on_failure", channel=webhook)
    failed = make_execution(deployment, "failed", scheduled_for=tick(1))
    run(deployment, "succeeded", 2)
    execution_finished_task(failed.pk)  # arrives after the success
    assert receiver.texts == []
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_long_run_alerts_while_still_running(deployment, component, webhook, alice, receiver):
    alert_rule_create(
        component=component, actor=alice, kind="long_run", threshold=60, channel=webhook
    )
    running = make_execution(
        deployment, "running", scheduled_for=timezone.now() - dt.timedelta(seconds=120), lag=0.1
    )
    alerts_check_running()
    alerts_check_running()
    assert len(receiver.texts) == 1 and "has been going for" in receiver.texts[0]
    assert f"#{running.pk}" in receiver.texts[0]


@pytest.mark.django_db
def test_failed_delivery_is_recorded_and_retried(deployment, component, webhook, alice, receiver):
    alert_rule_create(component=component, actor=alice, kind="on_failure", channel=webhook)
    receiver.status = 500
    run(deployment, "failed", 1)
    d = AlertDelivery.objects.get()
    assert (d.status, d.status_code, d.attempts) == ("failed", 500, 1)
    assert "HTTP 500" in d.error
    receiver.status = 200
    AlertDelivery.objects.update(
        created_at=timezone.now() - dt.timedelta(minutes=5),
        attempted_at=timezone.now() - dt.timedelta(minutes=5),
    )
    assert alerts_send_pending() == 1
    d.refresh_from_db()
    assert (d.status, d.status_code, d.attempts, d.error) == ("sent", 200, 2, "")
    assert len(receiver.texts) == 2  # the same message, delivered on the second attempt
    assert receiver.texts[0] == receiver.texts[1]


@pytest.mark.django_db
def test_email_channel_sends_one_mail_per_incident(deployment, component, alice, project):
    channel = alert_channel_create(
        project=project,
        actor=alice,
        name="ops",
        kind="email",
        email_addresses="ops@example.com, oncall@example.com",
    )
    alert_rule_create(component=component, actor=alice, kind="on_failure", channel=channel)
    run(deployment, "failed", 1)
    run(deployment, "failed", 1, attempt=2)
    run(deployment, "succeeded", 2)
    assert [m.subject.split(" ")[1] for m in mail.outbox] == ["ALERT", "RECOVERED"]
    assert mail.outbox[0].to == ["ops@example.com", "oncall@example.com"]


def test_hook_to_worker_to_webhook(
    transactional_db, project, alice, receiver, component, deployment
):
    """The real path: the executions code calls the hook on commit; a Celery worker alerts at
    once and folds the run into the rollup with the next drain of finished runs (a second
    later)."""
    from tests.support.processes import flush_broker, start_worker

    channel = alert_channel_create(
        project=project, actor=alice, name="slack", kind="webhook", webhook_url=receiver.url
    )
    alert_rule_create(component=component, actor=alice, kind="on_failure", channel=channel)
    flush_broker()
    worker = start_worker("obs-worker", queues="chorus", concurrency=1)
    try:
        with transaction.atomic():
            e = make_execution(deployment, "failed", scheduled_for=tick(1))
            transaction.on_commit(lambda: hooks.execution_finished(e.pk))
        texts = receiver.wait_for(1)
        assert "run failed" in texts[0]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            folded = list(HourlyRollup.objects.filter(deployment=deployment).values_list("failed"))
            if folded:
                break
            time.sleep(0.2)
        assert folded == [(1,)]
    finally:
        worker.stop()


def test_hook_never_raises_into_the_caller(settings, monkeypatch):
    from observability import tasks
    from observability.services import finished

    def broken(*a, **kw):
        raise ConnectionError("broker down")

    # Neither the Redis list nor the plain task is reachable.
    monkeypatch.setattr(finished, "finished_enqueue", broken)
    monkeypatch.setattr(tasks.execution_finished_task, "delay", broken)
    assert hooks.execution_finished(123) is None
