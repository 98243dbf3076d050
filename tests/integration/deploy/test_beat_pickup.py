"""A running beat picks up deploy, undeploy and schedule changes without a restart.

Uses django-celery-beat's stock DatabaseScheduler: what the deploy service relies on is its
PeriodicTasks change marker, bumped by PeriodicTask.save()/delete() in the deploy transaction.
"""

from __future__ import annotations

import re
import time

import pytest

from deployments.deploy.services.lifecycle import deployment_deploy
from deployments.deploy.services.state import deployment_suspend, deployment_undeploy
from tests.support.factories import sample_component
from tests.support.processes import flush_broker, start_beat

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]

STOCK = {"CELERY_BEAT_SCHEDULER": "django_celery_beat.schedulers:DatabaseScheduler"}


def sends(beat, deployment) -> int:
    """How many times beat has sent this deployment's tick so far."""
    pattern = rf"Sending due task chorus:deployment:{deployment.pk} \(chorus\.execution\.tick\)"
    return len(re.findall(pattern, beat.output()))


def wait_for_sends(beat, deployment, at_least: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sends(beat, deployment) >= at_least:
            return
        time.sleep(0.2)
    raise AssertionError(
        f"beat sent chorus:deployment:{deployment.pk} {sends(beat, deployment)} times, "
        f"expected {at_least} within {timeout}s:\n{beat.output()[-3000:]}"
    )


@pytest.fixture
def second_component(project, alice):
    return sample_component(project, "second-task")


def test_beat_follows_deploys_without_restart(component, second_component, dev, make_build, bob):
    flush_broker()
    first = deployment_deploy(
        component=component,
        environment=dev,
        build=make_build(),
        schedule="@every 2s",
        timezone="UTC",
        actor=bob,
    )
    beat = start_beat("beat-deploy", extra_env=STOCK)
    try:
        wait_for_sends(beat, first, 2)

        # A deployment created while beat runs is scheduled within seconds.
        second = deployment_deploy(
            component=second_component,
            environment=dev,
            build=make_build(component=second_component),
            schedule="@every 2s",
            timezone="UTC",
            actor=bob,
        )
        wait_for_sends(beat, second, 1, timeout=10)

        # Suspended: the task stays enabled, ticks keep coming (recorded as skipped downstream).
        deployment_suspend(deployment=second, actor=bob)
        n = sends(beat, second)
        wait_for_sends(beat, second, n + 2, timeout=10)

        # Undeployed: beat stops sending it (one tick may already be in flight).
        deployment_undeploy(deployment=first, actor=bob)
        time.sleep(3)
        stopped_at = sends(beat, first)
        n2 = sends(beat, second)
        wait_for_sends(beat, second, n2 + 2, timeout=10)
        assert sends(beat, first) == stopped_at
    finally:
        beat.stop()


def test_chorus_scheduler_follows_deploy_suspend_undeploy(component, dev, make_build, bob):
    """With Chorus's own beat scheduler (the default): ticks become Execution rows."""
    from django.conf import settings

    from deployments.models import Execution

    assert settings.CELERY_BEAT_SCHEDULER.endswith("ChorusScheduler")
    flush_broker()
    beat = start_beat("beat-chorus")
    try:
        d = deployment_deploy(
            component=component,
            environment=dev,
            build=make_build(),
            schedule="@every 2s",
            timezone="UTC",
            actor=bob,
        )

        def rows(**kw):
            return Execution.objects.filter(deployment=d, trigger="schedule", **kw)

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and rows().count() < 2:
            time.sleep(0.2)
        assert rows().count() >= 2, beat.output()[-3000:]
        # One row per tick, on the 2-second grid.
        ticks = list(rows().values_list("scheduled_for", flat=True))
        assert all(t.timestamp() % 2 == 0 for t in ticks)
        assert len(ticks) == len(set(ticks))

        deployment_suspend(deployment=d, actor=bob)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not rows(status="skipped").exists():
            time.sleep(0.2)
        skipped = rows(status="skipped").first()
        assert skipped is not None and skipped.reason == "suspended", beat.output()[-3000:]

        deployment_undeploy(deployment=d, actor=bob)
        time.sleep(2)
        count = rows().count()
        time.sleep(4)
        assert rows().count() == count
    finally:
        beat.stop()
