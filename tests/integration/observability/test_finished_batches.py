"""300 runs finishing at once, through the real path (the executions code's on-commit hook, Redis,
a Celery worker): a few drain tasks fold them, not a task per run, and the rollups equal a
recompute from the raw rows."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter

import pytest
from django.db import transaction
from django.utils import timezone

from deployments.executions.dispatch import finished_on_commit
from deployments.models import Execution
from observability.models import DeploymentTotals, HourlyRollup
from observability.services import finished
from observability.services.alert_config import alert_channel_create, alert_rule_create
from observability.services.rollups import hour_floor, rollup_recompute_range
from tests.support.obs import make_component, make_deployment, make_execution

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

N = 300


def _task_runs(output: str, name: str) -> int:
    return sum(1 for line in output.splitlines() if f"{name}[" in line and " succeeded in " in line)


def test_300_finished_runs_are_folded_by_a_handful_of_drains(
    transactional_db, project, alice, receiver
):
    from tests.support.processes import flush_broker, start_worker

    deployments = [make_deployment(make_component(project, f"job-{i}")) for i in range(30)]
    # One deployment fails every tick and has an alert rule: one alert, whatever the batching.
    failing = deployments[0]
    channel = alert_channel_create(
        project=project, actor=alice, name="ops", kind="webhook", webhook_url=receiver.url
    )
    alert_rule_create(component=failing.component, actor=alice, kind="on_failure", channel=channel)
    start = hour_floor(timezone.now()) - dt.timedelta(hours=1)
    flush_broker()
    worker = start_worker("obs-batches", queues="chorus", concurrency=2)
    try:
        with transaction.atomic():
            executions = [
                make_execution(
                    d,
                    "failed" if d == failing or (i + j) % 7 == 0 else "succeeded",
                    scheduled_for=start + dt.timedelta(minutes=9 * i + j),
                    duration=0.1 * (i + 1),
                )
                for i in range(N // len(deployments))
                for j, d in enumerate(deployments)
            ]
            finished_on_commit(e.pk for e in executions)
        client = finished.redis_client()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done = sum(HourlyRollup.objects.values_list("succeeded", flat=True)) + sum(
                HourlyRollup.objects.values_list("failed", flat=True)
            )
            if done == N and client.llen(finished.QUEUE) == 0 and receiver.texts:
                break
            time.sleep(0.5)
        time.sleep(3)  # any drain still to come would show in the log by now
        output = worker.output()
    finally:
        worker.stop()

    assert client.llen(finished.QUEUE) == 0
    drains = _task_runs(output, "chorus.observability.drain_finished")
    # Drains follow the clock (at most about one a second while runs keep finishing, plus
    # those that found another at work), not the number of runs.
    assert 1 <= drains <= N // 10, output[-3000:]
    assert _task_runs(output, "chorus.observability.execution_finished") == 0
    # Alert rules: evaluated at once for each run of the one deployment that has one (not
    # behind the drains), and for no other run.
    assert _task_runs(output, "chorus.observability.evaluate_alerts") == N // len(deployments)
    assert len(receiver.texts) == 1 and "/job-0 (Development)" in receiver.texts[0]

    raw = Counter(
        (d, hour_floor(when))
        for d, when in Execution.objects.values_list("deployment_id", "scheduled_for")
    )
    stored = {(r.deployment_id, r.hour): r.total for r in HourlyRollup.objects.all()}
    assert stored == dict(raw)
    assert sum(t.total for t in DeploymentTotals.objects.all()) == N
    assert rollup_recompute_range(start=start) == 0  # nothing left for the repair to change
