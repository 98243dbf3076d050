"""Fixtures for the deploy tests: a sample component, succeeded builds, the two environments."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.support.factories import sample_component, succeeded_build


@pytest.fixture
def dev(db):
    from deployments.models import Environment

    return Environment.objects.get(slug="dev")


@pytest.fixture
def prod(db):
    from deployments.models import Environment

    return Environment.objects.get(slug="prod")


@pytest.fixture
def component(project, alice):
    return sample_component(project, "nightly-report", created_by=alice)


@pytest.fixture
def make_build(component):
    def make(status: str = "succeeded", **extra):
        return succeeded_build(extra.pop("component", component), status=status, **extra)

    return make


@pytest.fixture
def build(make_build):
    return make_build()


@pytest.fixture
def ran(db):
    """Record a succeeded execution of `deployment` with its current build (it 'ran')."""
    from deployments.models import Execution

    def mark(deployment, status: str = "succeeded"):
        now = timezone.now()
        return Execution.objects.create(
            deployment=deployment,
            scheduled_for=now,
            trigger=Execution.Trigger.MANUAL,
            status=status,
            started_at=now,
            finished_at=now,
            exit_code=0 if status == "succeeded" else 1,
            build=deployment.build,
            image_ref=deployment.build.image_ref,
            image_digest=deployment.build.image_digest,
            config_revision=deployment.config_revision,
        )

    return mark
