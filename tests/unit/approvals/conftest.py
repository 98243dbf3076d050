"""Approval fixtures: the deploy fixtures, approvals switched on, a build that ran in
Development (so Production may run it)."""

from __future__ import annotations

import pytest

from tests.unit.deploy.conftest import build, component, dev, make_build, prod, ran  # noqa: F401


@pytest.fixture
def approvals_on(project):
    project.production_approval = True
    project.save()
    return project


@pytest.fixture
def in_dev(component, dev, build, alice, ran):  # noqa: F811
    """`build` deployed to Development, with a succeeded run."""
    from deployments.deploy.services.lifecycle import deployment_deploy

    d = deployment_deploy(
        component=component, environment=dev, build=build, schedule="*/5 * * * *",
        timezone="UTC", actor=alice,
    )  # fmt: skip
    ran(d)
    return d


@pytest.fixture
def request_promote(component, prod, approvals_on, in_dev):  # noqa: F811
    """A developer's (bob's) request to promote Development's build to Production."""
    from deployments.approvals.services import approval_request_create

    def make(actor, **kw):
        return approval_request_create(
            component=component, environment=prod, action="promote", actor=actor, **kw
        )

    return make
