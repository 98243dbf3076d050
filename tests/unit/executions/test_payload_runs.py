"""Every scheduled run of a deployment gets its fixed payload in CHORUS_PAYLOAD; Run now may
give its own."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.executions.conftest import log_text

pytestmark = pytest.mark.django_db


def test_scheduled_runs_get_the_deployment_payload(deploy, tick, run, bob):
    from deployments.deploy.services.lifecycle import deployment_deploy
    from deployments.executions.actions import execution_run_now

    d = deploy(config={"RECORD_PRINT_ENV": "1"})
    d = deployment_deploy(
        component=d.component, environment=d.environment, build=d.build, schedule=d.schedule,
        actor=None, payload={"region": "eu"},
    )  # fmt: skip
    e = run(tick(d))
    assert e.payload == {"region": "eu"}
    assert 'CHORUS_PAYLOAD={"region": "eu"}' in log_text(e)
    manual = run(execution_run_now(deployment=d, actor=bob, payload='{"dry_run": true}'))
    assert 'CHORUS_PAYLOAD={"dry_run": true}' in log_text(manual)
    d = deployment_deploy(
        component=d.component, environment=d.environment, build=d.build, schedule=d.schedule,
        actor=None, payload=None,
    )  # fmt: skip
    # The next second's tick (not "a second ago", which a slow machine makes the first one).
    e = run(tick(d, at=e.scheduled_for + timedelta(seconds=1)))
    assert e.payload is None and "CHORUS_PAYLOAD=" not in log_text(e)
