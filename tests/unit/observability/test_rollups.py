"""Hourly rollups: what the graphs and /metrics count must equal the executions."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from deployments.models import Execution
from observability import histograms
from observability.models import DeploymentTotals, HourlyRollup
from observability.services.retention import retention_cleanup
from observability.services.rollups import (
    hour_floor,
    rollup_fold_executions,
    rollup_recompute_range,
    rollup_recompute_recent,
)
from observability.tasks import execution_finished_task
from tests.support.obs import make_component, make_deployment, make_execution

pytestmark = pytest.mark.django_db

H = dt.timedelta(hours=1)


@pytest.fixture
def deployment(project):
    return make_deployment(make_component(project))


def _at(hour: dt.datetime, minute: int) -> dt.datetime:
    return hour + dt.timedelta(minutes=minute)


def test_folding_each_execution_counts_every_status_once(deployment):
    hour = hour_floor(timezone.now()) - 2 * H
    statuses = ["succeeded"] * 5 + ["failed"] * 3 + ["timed_out", "missed", "skipped"]
    execs = [
        make_execution(deployment, s, scheduled_for=_at(hour, i), duration=2.0 + i)
        for i, s in enumerate(statuses)
    ]
    for e in execs:
        execution_finished_task(e.pk)
    # A redelivered hook message must not count anything twice.
    execution_finished_task(execs[0].pk)

    r = HourlyRollup.objects.get(deployment=deployment, hour=hour)
    assert (r.succeeded, r.failed, r.timed_out, r.missed, r.skipped) == (5, 3, 1, 1, 1)
    assert r.duration_count == 9  # missed / skipped never ran
    assert sum(r.duration_hist) == 9
    assert r.duration_max == pytest.approx(10.0)
    totals = DeploymentTotals.objects.get(deployment=deployment)
    assert (totals.succeeded, totals.failed, totals.total) == (5, 3, 11)


def test_running_executions_are_not_counted_until_finished(deployment):
    e = make_execution(deployment, "running")
    assert rollup_fold_executions(execution_ids=[e.pk]) == 0
    assert not HourlyRollup.objects.exists()
    Execution.objects.filter(pk=e.pk).update(status="succeeded", duration_seconds=3.0)
    assert rollup_fold_executions(execution_ids=[e.pk]) == 1
    assert HourlyRollup.objects.get().succeeded == 1


def test_recompute_is_idempotent_and_repairs_lost_hook_messages(deployment):
    hour = hour_floor(timezone.now())
    for i in range(4):
        make_execution(deployment, "succeeded", scheduled_for=_at(hour, 0) - i * H)
    # No hook ran (lost messages): the periodic recompute finds them.
    assert rollup_recompute_recent(hours=3) == 3
    assert sum(r.succeeded for r in HourlyRollup.objects.all()) == 3  # 4th is 3 h old
    assert rollup_recompute_recent(hours=3) == 0
    assert DeploymentTotals.objects.get(deployment=deployment).succeeded == 3


def test_rollup_keeps_history_when_raw_rows_are_pruned(deployment):
    hour = hour_floor(timezone.now()) - H
    execs = [make_execution(deployment, "failed", scheduled_for=_at(hour, i)) for i in range(3)]
    rollup_recompute_range(start=hour)
    Execution.objects.filter(pk__in=[e.pk for e in execs[:2]]).delete()
    rollup_recompute_range(start=hour)
    assert HourlyRollup.objects.get(deployment=deployment, hour=hour).failed == 3
    assert DeploymentTotals.objects.get(deployment=deployment).failed == 3


def test_percentiles_from_the_histogram_are_close_to_the_real_ones():
    values = [0.3] * 50 + [4.0] * 45 + [50.0] * 5
    hist = histograms.empty(histograms.DURATION_BOUNDS)
    for v in values:
        hist[histograms.bucket_index(v, histograms.DURATION_BOUNDS)] += 1
    p50 = histograms.quantile(hist, histograms.DURATION_BOUNDS, 0.5, vmax=50.0)
    p95 = histograms.quantile(hist, histograms.DURATION_BOUNDS, 0.95, vmax=50.0)
    assert 0.25 <= p50 <= 0.5
    assert 2 <= p95 <= 5


def test_retention_deletes_old_raw_rows_but_keeps_their_counts(deployment, settings):
    settings.CHORUS_RAW_RETENTION_DAYS = 7
    settings.CHORUS_ROLLUP_RETENTION_DAYS = 30
    now = timezone.now()
    old = make_execution(
        deployment, "failed", scheduled_for=now - dt.timedelta(days=10), logs=("boom",)
    )
    ancient = make_execution(deployment, "succeeded", scheduled_for=now - dt.timedelta(days=40))
    fresh = make_execution(deployment, "succeeded", scheduled_for=now - dt.timedelta(days=1))
    execution_finished_task(fresh.pk)
    result = retention_cleanup(now=now)

    assert list(Execution.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert result.executions == 2 and result.log_lines == 1
    # The 10-day-old failure is still on the graphs; the 40-day-old hour is gone from them.
    hours = {r.hour: r for r in HourlyRollup.objects.all()}
    assert hours[hour_floor(old.scheduled_for)].failed == 1
    assert hour_floor(ancient.scheduled_for) not in hours
    # ...but never from the lifetime counters behind /metrics.
    assert DeploymentTotals.objects.get(deployment=deployment).succeeded == 2


def test_rebuild_command_restores_rollups_from_raw_rows(deployment):
    from io import StringIO

    from django.core.management import call_command

    hour = hour_floor(timezone.now()) - 5 * H
    for i in range(3):
        make_execution(deployment, "succeeded", scheduled_for=_at(hour, i))
    out = StringIO()
    call_command("rollups_rebuild", "--days", "1", stdout=out)
    assert "1 hourly rollups updated" in out.getvalue()
    assert HourlyRollup.objects.get(deployment=deployment, hour=hour).succeeded == 3
    out = StringIO()
    call_command("rollups_rebuild", "--days", "1", stdout=out)
    assert out.getvalue().startswith("0 hourly rollups updated")
