"""The pieces of tests/bench/http_load.py work at a tiny size (the benchmark itself is not run
here: it measures, and no test asserts a time)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from deployments.models import ConfigVar, Deployment, Execution, ExecutionLogLine
from observability.models import DeploymentTotals, HourlyRollup
from tests.bench import http_load, http_load_seed

ROOT = Path(__file__).resolve().parents[3]


def test_help_names_the_reuse_flag():
    out = subprocess.run(
        [sys.executable, "tests/bench/http_load.py", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert "--reuse" in out and "--pollers" in out
    args = http_load.parse_args(["--reuse", "--clients", "3"])
    assert args.reuse and args.clients == 3 and args.pollers == 50


@pytest.mark.django_db
def test_seed_spreads_executions_over_deployments_and_time_with_rollups():
    ids = http_load_seed._create_deployments(projects=2, components=3)
    assert len(ids) == 12 == Deployment.objects.filter(schedule="* * * * *").count()
    # One live task per project: Development, runs long, overlaps its next tick.
    live = ConfigVar.objects.filter(key="RECORD_SLEEP")
    assert {v.component.name for v in live} == {"task-000"} and live.count() == 2

    http_load_seed._insert_executions(ids, 3000, days=2)
    assert Execution.objects.count() == 3000
    per_deployment = Execution.objects.values("deployment_id").distinct().count()
    assert per_deployment == 12
    span = Execution.objects.order_by("scheduled_for").values_list("scheduled_for", flat=True)
    assert (span.last() - span.first()).total_seconds() > 86400  # over the days asked
    assert Execution.objects.filter(status="failed").exists()
    assert ExecutionLogLine.objects.filter(text__contains="quota exhausted").exists()

    http_load_seed._build_rollups(days=2)
    finished = Execution.objects.filter(status__in=Execution.FINISHED).count()
    counted = sum(r.total for r in HourlyRollup.objects.all())
    assert counted == finished
    assert sum(t.total for t in DeploymentTotals.objects.all()) == finished
