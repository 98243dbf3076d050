"""Runs go to their environment's own queue (Environment.queue), set by the operator's
command; a bad engine or queue name is refused in words."""

from __future__ import annotations

import io
import json
import os

import pytest
import redis
from django.core.management import CommandError, call_command
from django.utils import timezone

from deployments.executions.dispatch import publish_runs
from deployments.models import Environment, Execution
from tests.support.factories import sample_component, succeeded_build

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker():
    r = redis.Redis.from_url(os.environ["REDIS_URL"])
    r.delete("executions.prod", "executions")
    yield r
    r.delete("executions.prod", "executions")


def _execution(project, alice, env_slug: str) -> Execution:
    from deployments.models import Deployment

    component = sample_component(project, f"routed-{env_slug}", created_by=alice)
    build = succeeded_build(component)
    deployment = Deployment.objects.create(
        component=component,
        environment=Environment.objects.get(slug=env_slug),
        build=build,
        schedule="@daily",
    )
    now = timezone.now()
    return Execution.objects.create(deployment=deployment, scheduled_for=now, due_at=now)


def _ids(broker, queue: str) -> list[int]:
    return [json.loads(m)["headers"]["argsrepr"] for m in broker.lrange(queue, 0, -1)]


def test_a_run_goes_to_its_environment_s_queue(project, alice, broker):
    out = io.StringIO()
    call_command("chorus_environment", "prod", "--queue", "executions.prod", stdout=out)
    assert out.getvalue().strip() == (
        "Production: engine DOCKER_HOST, network CHORUS_DOCKER_NETWORK, queue executions.prod"
    )
    prod_run = _execution(project, alice, "prod")
    dev_run = _execution(project, alice, "dev")

    publish_runs([(prod_run.pk, "", None), (dev_run.pk, "", None)])

    assert _ids(broker, "executions.prod") == [f"({prod_run.pk},)"]
    assert _ids(broker, "executions") == [f"({dev_run.pk},)"]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--queue", "executions prod", "A queue name is letters, digits"),
        ("--docker-host", "prod-1:2376", "A Docker host is unix:///path.sock"),
    ],
)
def test_a_bad_engine_or_queue_is_refused_in_words(db, option, value, message):
    with pytest.raises(CommandError, match=message):
        call_command("chorus_environment", "prod", option, value, stdout=io.StringIO())
    prod = Environment.objects.get(slug="prod")
    assert prod.queue == "" and prod.docker_host == ""
