"""deployments.deploy.services: deploy, promote, rollback, suspend/resume, undeploy, policies."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks

from deployments.deploy.services.lifecycle import (
    deployment_deploy,
    deployment_promote,
    deployment_rollback,
)
from deployments.deploy.services.state import (
    deployment_resume,
    deployment_suspend,
    deployment_undeploy,
    deployment_update_policies,
)
from deployments.models import Deployment, DeploymentEvent

pytestmark = pytest.mark.django_db


def deploy(component, env, build, actor, schedule="* * * * *", tz="Europe/Berlin", **kw):
    return deployment_deploy(
        component=component,
        environment=env,
        build=build,
        schedule=schedule,
        timezone=tz,
        actor=actor,
        **kw,
    )


def test_deploy_creates_periodic_task_with_crontab_and_timezone(component, dev, build, bob):
    d = deploy(component, dev, build, bob, schedule="*/10 * * * *")
    task = PeriodicTask.objects.get(name=f"chorus:deployment:{d.pk}")
    assert d.periodic_task == task
    assert task.task == "chorus.execution.tick"
    assert json.loads(task.kwargs) == {"deployment_id": d.pk}
    assert task.queue == "executions"
    assert task.enabled
    assert task.interval is None
    c = task.crontab
    assert (c.minute, c.hour, c.day_of_month, c.month_of_year, c.day_of_week) == (
        "*/10",
        "*",
        "*",
        "*",
        "*",
    )
    assert str(c.timezone) == "Europe/Berlin"
    assert d.status == Deployment.Status.ACTIVE
    assert d.deployed_by == bob
    event = DeploymentEvent.objects.get(deployment=d)
    assert event.kind == "deploy" and event.outcome == "ok" and event.actor == bob
    assert "Every 10 minutes" in event.message and event.timezone == "Europe/Berlin"


def test_deploy_every_creates_interval_schedule(component, dev, build, bob):
    d = deploy(component, dev, build, bob, schedule="@every 1h30m", tz="UTC")
    task = d.periodic_task
    assert task.crontab is None
    assert (task.interval.every, task.interval.period) == (5400, IntervalSchedule.SECONDS)


def test_macro_and_sunday_seven_map_to_celery_fields(component, dev, build, bob):
    d = deploy(component, dev, build, bob, schedule="@weekly", tz="America/New_York")
    c = d.periodic_task.crontab
    assert (c.minute, c.hour, c.day_of_week) == ("0", "0", "0")
    d = deploy(component, dev, build, bob, schedule="0 6 * jan 7", tz="America/New_York")
    c = PeriodicTask.objects.get(pk=d.periodic_task_id).crontab
    # Celery knows Sunday only as 0 and needs the month spelled as a number.
    assert (c.month_of_year, c.day_of_week) == ("1", "0")


def test_redeploy_updates_the_same_task_and_beat_notices(component, dev, make_build, bob):
    b1, b2 = make_build(), make_build()
    d = deploy(component, dev, b1, bob)
    task_id = d.periodic_task_id
    before = PeriodicTasks.last_change()
    d2 = deploy(component, dev, b2, bob, schedule="@every 2s", tz="UTC")
    assert d2.pk == d.pk and d2.build == b2
    task = PeriodicTask.objects.get(pk=task_id)
    assert task.crontab is None and task.interval.every == 2
    # django-celery-beat's change marker moved: a running beat reloads without a restart.
    assert PeriodicTasks.last_change() is not None
    assert before is None or PeriodicTasks.last_change() > before
    assert PeriodicTask.objects.filter(name__startswith="chorus:deployment:").count() == 1


def test_schedule_only_change_is_logged_as_schedule_change(component, dev, build, bob):
    deploy(component, dev, build, bob)
    deploy(component, dev, build, bob, schedule="0 2 * * *")
    latest = DeploymentEvent.objects.filter(component=component).first()
    assert latest.kind == "schedule"
    assert '"* * * * *" → "0 2 * * *"' in latest.message


def test_failure_inside_the_transaction_leaves_neither_row_nor_task(
    component, dev, build, bob, monkeypatch
):
    from deployments.deploy.services import events

    real = events.record_event

    def boom(**kw):
        if kw.get("outcome", "ok") == "ok":
            raise ValidationError("event store down")
        return real(**kw)

    monkeypatch.setattr(events, "record_event", boom)
    with pytest.raises(ValidationError):
        deploy(component, dev, build, bob)
    assert not Deployment.objects.exists()
    assert not PeriodicTask.objects.filter(name__startswith="chorus:deployment:").exists()
    # ... and the refusal itself is in the deploy log.
    failed = DeploymentEvent.objects.get(component=component)
    assert failed.outcome == "failed" and "event store down" in failed.message


def test_invalid_schedule_and_timezone_refused_and_logged(component, dev, build, bob):
    with pytest.raises(ValidationError) as e:
        deploy(component, dev, build, bob, schedule="61 * * * *")
    assert 'Invalid minute field "61"' in e.value.messages[0]
    with pytest.raises(ValidationError) as e:
        deploy(component, dev, build, bob, tz="Europe/Berln")
    assert 'Unknown timezone "Europe/Berln"' in e.value.messages[0]
    assert not Deployment.objects.exists()
    events = DeploymentEvent.objects.filter(component=component)
    assert [ev.outcome for ev in events] == ["failed", "failed"]


def test_only_succeeded_builds_deploy(component, dev, make_build, bob):
    failed = make_build(status="failed")
    with pytest.raises(ValidationError, match="has not succeeded"):
        deploy(component, dev, failed, bob)


def test_viewer_cannot_deploy_and_outsider_gets_404(component, dev, build, carol, dave):
    with pytest.raises(PermissionDenied, match="viewers can look but not change"):
        deploy(component, dev, build, carol)
    with pytest.raises(Http404):
        deploy(component, dev, build, dave)
    assert not Deployment.objects.exists()


def test_developer_cannot_deploy_to_production(component, prod, build, bob):
    with pytest.raises(PermissionDenied, match="Only project owners can deploy in Production"):
        deploy(component, prod, build, bob)


def test_owner_deploying_unproven_build_to_production_is_refused(component, prod, build, alice):
    with pytest.raises(ValidationError, match="never run successfully in Development"):
        deploy(component, prod, build, alice)


def test_promote_copies_the_exact_image(component, dev, prod, build, alice, bob, ran):
    d = deploy(component, dev, build, bob, schedule="* * * * *", tz="Europe/Berlin")
    ran(d)
    p = deployment_promote(
        component=component,
        source_env=dev,
        target_env=prod,
        actor=alice,
        schedule="0 2 * * *",
        timezone="Europe/Berlin",
    )
    assert p.environment == prod and p.build == build
    assert p.build.image_digest == d.build.image_digest
    assert p.schedule == "0 2 * * *"
    c = p.periodic_task.crontab
    assert (c.minute, c.hour, str(c.timezone)) == ("0", "2", "Europe/Berlin")
    assert p.periodic_task_id != d.periodic_task_id
    event = DeploymentEvent.objects.filter(deployment=p).first()
    assert event.kind == "promote" and build.image_digest[:19] in event.message


def test_promote_without_schedule_keeps_source_schedule_first_time(
    component, dev, prod, build, alice, ran
):
    d = deploy(component, dev, build, alice, schedule="@hourly", tz="Asia/Tokyo")
    ran(d)
    p = deployment_promote(component=component, source_env=dev, target_env=prod, actor=alice)
    assert (p.schedule, p.timezone) == ("@hourly", "Asia/Tokyo")


def test_promoting_a_build_that_never_ran_is_refused(component, dev, prod, build, alice, ran):
    d = deploy(component, dev, build, alice)
    ran(d, status="failed")  # a failed run does not count
    with pytest.raises(ValidationError, match="has not run successfully in Development"):
        deployment_promote(component=component, source_env=dev, target_env=prod, actor=alice)
    assert not Deployment.objects.filter(environment=prod).exists()
    failed = DeploymentEvent.objects.filter(kind="promote").get()
    assert failed.outcome == "failed" and failed.environment == prod


def test_promoting_needs_the_current_build_to_have_run(
    component, dev, prod, make_build, alice, ran
):
    b1, b2 = make_build(), make_build()
    d = deploy(component, dev, b1, alice)
    ran(d)
    deploy(component, dev, b2, alice)  # the new build has not run yet
    with pytest.raises(ValidationError, match=f"Build #{b2.pk}"):
        deployment_promote(component=component, source_env=dev, target_env=prod, actor=alice)


def test_a_run_of_the_build_that_ran_another_image_does_not_clear_it(
    component, dev, prod, build, alice, ran
):
    """The gate compares what the engine says ran, not the build the run was started for."""
    d = deploy(component, dev, build, alice)
    other = ran(d)
    other.image_digest = "sha256:" + "e" * 64  # what the engine reported it started
    other.save()
    with pytest.raises(ValidationError, match="has not run successfully in Development"):
        deployment_promote(component=component, source_env=dev, target_env=prod, actor=alice)
    ran(d)  # a run that recorded the build's own image
    assert deployment_promote(component=component, source_env=dev, target_env=prod, actor=alice)


def test_developer_promoting_is_refused(component, dev, prod, build, bob, ran):
    d = deploy(component, dev, build, bob)
    ran(d)
    with pytest.raises(PermissionDenied, match="Only project owners can promote in Production"):
        deployment_promote(component=component, source_env=dev, target_env=prod, actor=bob)
    failed = DeploymentEvent.objects.filter(kind="promote").get()
    assert failed.outcome == "failed" and failed.actor == bob


def test_promote_with_nothing_in_dev_is_refused(component, dev, prod, alice):
    with pytest.raises(ValidationError, match="Nothing is deployed in Development"):
        deployment_promote(component=component, source_env=dev, target_env=prod, actor=alice)


def test_suspend_keeps_task_enabled_and_resume(component, dev, build, bob):
    d = deploy(component, dev, build, bob)
    deployment_suspend(deployment=d, actor=bob)
    d.refresh_from_db()
    assert d.status == "suspended"
    # Ticks keep arriving so the executions side records them as skipped.
    assert PeriodicTask.objects.get(pk=d.periodic_task_id).enabled
    with pytest.raises(ValidationError, match="already suspended"):
        deployment_suspend(deployment=d, actor=bob)
    deployment_resume(deployment=d, actor=bob)
    d.refresh_from_db()
    assert d.status == "active"
    kinds = list(DeploymentEvent.objects.filter(deployment=d).values_list("kind", "outcome"))
    assert kinds[:3] == [("resume", "ok"), ("suspend", "failed"), ("suspend", "ok")]


def test_viewer_cannot_suspend(component, dev, build, bob, carol):
    d = deploy(component, dev, build, bob)
    with pytest.raises(PermissionDenied):
        deployment_suspend(deployment=d, actor=carol)
    d.refresh_from_db()
    assert d.status == "active"


def test_undeploy_removes_task_keeps_executions(component, dev, build, bob, ran):
    d = deploy(component, dev, build, bob)
    execution = ran(d)
    task_id = d.periodic_task_id
    deployment_undeploy(deployment=d, actor=bob)
    d.refresh_from_db()
    assert d.status == "undeployed" and d.periodic_task is None
    assert not PeriodicTask.objects.filter(pk=task_id).exists()
    execution.refresh_from_db()  # still there
    # Deploying again reuses the row and creates a fresh task.
    d2 = deploy(component, dev, build, bob)
    assert d2.pk == d.pk and d2.status == "active" and d2.periodic_task is not None


def test_rollback_redeploys_previous_build_keeping_schedule(component, dev, make_build, bob):
    b1, b2 = make_build(), make_build()
    deploy(component, dev, b1, bob, schedule="0 3 * * *", tz="Europe/Berlin")
    d = deploy(component, dev, b2, bob, schedule="0 3 * * *", tz="Europe/Berlin")
    d = deployment_rollback(deployment=d, build=b1, actor=bob)
    assert d.build == b1 and d.schedule == "0 3 * * *"
    assert DeploymentEvent.objects.filter(component=component).first().kind == "rollback"


def test_production_rollback_to_a_build_that_ran_in_dev(
    component, dev, prod, make_build, alice, ran
):
    b1, b2 = make_build(), make_build()
    d = deploy(component, dev, b1, alice)
    ran(d)
    deployment_promote(component=component, source_env=dev, target_env=prod, actor=alice)
    d = deploy(component, dev, b2, alice)
    ran(d)
    p = deployment_promote(component=component, source_env=dev, target_env=prod, actor=alice)
    p = deployment_rollback(deployment=p, build=b1, actor=alice)
    assert p.build == b1
    never_ran = make_build()
    with pytest.raises(ValidationError, match="never run successfully"):
        deployment_rollback(deployment=p, build=never_ran, actor=alice)


def test_policies_at_deploy_time_and_later(component, dev, build, bob):
    d = deploy(
        component,
        dev,
        build,
        bob,
        policies={"timeout_seconds": 30, "max_retries": 2, "concurrency_policy": "allow"},
    )
    assert (d.timeout_seconds, d.max_retries, d.concurrency_policy) == (30, 2, "allow")
    deployment_update_policies(
        deployment=d, actor=bob, policies={"catchup_policy": "latest", "keep_days": 7}
    )
    d.refresh_from_db()
    assert (d.catchup_policy, d.keep_days) == ("latest", 7)
    with pytest.raises(ValidationError) as e:
        deployment_update_policies(deployment=d, actor=bob, policies={"timeout_seconds": 999999})
    assert "between 1 and 3600" in str(e.value)
    with pytest.raises(ValidationError) as e:
        deployment_update_policies(deployment=d, actor=bob, policies={"concurrency_policy": "x"})
    assert "Concurrency must be one of" in str(e.value)


def test_crontab_rows_are_shared(component, dev, build, bob):
    deploy(component, dev, build, bob, schedule="0 2 * * *", tz="Europe/Berlin")
    deploy(component, dev, build, bob, schedule="0 2 * * *", tz="Europe/Berlin")
    assert CrontabSchedule.objects.filter(hour="2", minute="0").count() == 1


def test_default_timeout_fits_the_environment(component, dev, build, bob):
    dev.max_run_seconds = 120
    dev.save()
    d = deploy(component, dev, build, bob)
    assert d.timeout_seconds == 120
