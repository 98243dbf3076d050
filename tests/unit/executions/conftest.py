"""Fixtures for the executions tests: a component, builds, deployments made by the deploy
service (so each has its real PeriodicTask), and the record runtime for fast, exact runs."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.support.factories import sample_component, succeeded_build

BUSYBOX = "chorus/busybox:latest"


@pytest.fixture
def dev(db):
    from deployments.models import Environment

    env = Environment.objects.get(slug="dev")
    env.runtime_kind = "record"
    env.save()
    return env


@pytest.fixture
def prod(db):
    from deployments.models import Environment

    env = Environment.objects.get(slug="prod")
    env.runtime_kind = "record"
    env.save()
    return env


@pytest.fixture
def component(project, alice):
    return sample_component(project, "nightly", created_by=alice)


@pytest.fixture
def make_component(project, alice):
    def make(name: str):
        return sample_component(project, name, created_by=alice)

    return make


@pytest.fixture
def make_build(component):
    def make(image_ref: str = BUSYBOX, **extra):
        return succeeded_build(extra.pop("component", component), image_ref=image_ref, **extra)

    return make


@pytest.fixture
def build(make_build):
    return make_build()


@pytest.fixture
def deploy(component, dev, make_build):
    """deploy(schedule, policies=..., config=..., component=..., environment=...) -> Deployment."""
    from deployments.deploy.services.config import config_set
    from deployments.deploy.services.lifecycle import deployment_deploy

    def make(
        schedule: str = "@every 2s",
        *,
        policies: dict | None = None,
        config: dict | None = None,
        secrets: dict | None = None,
        component=component,
        environment=dev,
        build=None,
        timezone: str = "UTC",
    ):
        build = build or make_build(component=component)
        for key, value in (config or {}).items():
            config_set(
                component=component,
                environment=environment,
                key=key,
                value=str(value),
                is_secret=False,
                actor=None,
            )
        for key, value in (secrets or {}).items():
            config_set(
                component=component,
                environment=environment,
                key=key,
                value=str(value),
                is_secret=True,
                actor=None,
            )
        return deployment_deploy(
            component=component,
            environment=environment,
            build=build,
            schedule=schedule,
            timezone=timezone,
            actor=None,
            policies=policies,
        )

    return make


@pytest.fixture
def tick():
    """tick(deployment, seconds_ago=0, **fields) -> a pending scheduled Execution, as beat makes it."""
    from datetime import timedelta

    from deployments.executions.ticks import TickTarget, fire_tick

    def make(deployment, seconds_ago: float = 0, at=None):
        deployment.refresh_from_db()
        at = at or (timezone.now() - timedelta(seconds=seconds_ago)).replace(microsecond=0)
        fire_tick(scheduled_for=at, targets=[TickTarget.of(deployment)])
        return deployment.executions.get(scheduled_for=at, attempt=1)

    return make


@pytest.fixture
def run():
    """run(execution) -> the execution after the worker side ran it, now (due or not)."""
    import time

    from deployments.executions.run import execution_run

    def do(execution):
        outcome = execution_run(execution_id=execution.pk, worker="test@host", due=time.time())
        execution.refresh_from_db()
        execution.outcome = outcome
        return execution

    return do


def log_text(execution) -> str:
    return "\n".join(execution.log_lines.order_by("seq").values_list("text", flat=True))
