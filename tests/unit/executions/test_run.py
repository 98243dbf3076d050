"""The worker side through the record runtime: context variables, logs, secrets, timeouts,
retries with backoff, manual runs with a payload, re-runs and cancels."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from deployments.executions.actions import execution_cancel, execution_rerun, execution_run_now
from deployments.models import Execution

from .conftest import log_text

pytestmark = pytest.mark.django_db


def env_of(execution) -> dict[str, str]:
    out = {}
    for line in execution.log_lines.values_list("text", flat=True):
        key, sep, value = line.partition("=")
        if sep and key.isupper():
            out[key] = value
    return out


def test_a_run_sees_its_scheduling_context_config_and_masked_secrets(deploy, tick, run):
    d = deploy(
        "@every 2s",
        config={"RECORD_PRINT_ENV": "1", "API_URL": "https://example.test"},
        secrets={"API_TOKEN": "s3cr3t-token-value"},
    )
    first = run(tick(d, seconds_ago=4))
    env = env_of(first)
    assert first.status == "succeeded" and first.exit_code == 0
    assert env["CHORUS_EXECUTION_ID"] == str(first.pk)
    assert env["CHORUS_SCHEDULED_AT"] == first.scheduled_for.isoformat()
    assert env["CHORUS_PERIODICITY"] == "@every 2s"
    assert env["CHORUS_EXECUTION_COUNT"] == "1"
    assert env["CHORUS_LAST_SUCCESS_AT"] == ""
    assert env["CHORUS_ATTEMPT"] == "1"
    assert env["CHORUS_ENVIRONMENT"] == "dev"
    assert env["CHORUS_TRIGGER"] == "schedule"
    assert "CHORUS_PAYLOAD" not in env
    assert env["API_URL"] == "https://example.test"
    # The secret reached the task but never the stored log.
    assert env["API_TOKEN"] == "••••"
    assert "s3cr3t-token-value" not in log_text(first)
    assert first.config_revision == d.config_revision

    second = run(tick(d, seconds_ago=2))
    env2 = env_of(second)
    assert env2["CHORUS_EXECUTION_COUNT"] == "2"
    assert env2["CHORUS_LAST_SUCCESS_AT"] == first.scheduled_for.isoformat()


def test_a_finished_run_records_exit_code_times_image_and_lag(deploy, tick, run):
    d = deploy(config={"RECORD_EXIT_CODE": "3"})
    e = run(tick(d, seconds_ago=1))
    assert (e.status, e.exit_code, e.reason) == ("failed", 3, "exit code 3")
    assert e.started_at and e.finished_at and e.duration_seconds is not None
    assert e.container_id.startswith("record-")
    assert e.worker == "test@host"
    assert 1 <= e.fire_lag_seconds < 5
    assert e.image_digest == d.build.image_digest
    assert log_text(e).splitlines()[-1].startswith("[chorus] failed, exit code 3")


def test_a_run_past_its_timeout_is_killed_and_timed_out(deploy, tick, run):
    d = deploy(config={"RECORD_SLEEP": "30"}, policies={"timeout_seconds": 1})
    started = time.monotonic()
    e = run(tick(d))
    assert time.monotonic() - started < 10
    assert e.status == "timed_out"
    assert e.reason == "timed out after 1 s (the task was killed)"


def test_retries_back_off_exponentially_and_stop_at_the_maximum(deploy, tick, run):
    d = deploy(
        config={"RECORD_EXIT_CODE": "1"},
        policies={"max_retries": 2, "retry_delay_seconds": 10},
    )
    first = run(tick(d))
    assert first.status == "failed"
    attempts = [first]
    for expected_delay in (10, 20):
        nxt = Execution.objects.get(
            deployment=d, scheduled_for=first.scheduled_for, attempt=attempts[-1].attempt + 1
        )
        assert (nxt.trigger, nxt.status, nxt.parent_id) == ("retry", "pending", attempts[-1].pk)
        delay = (nxt.due_at - attempts[-1].finished_at).total_seconds()
        assert abs(delay - expected_delay) < 1
        assert f"retrying in {expected_delay} s as attempt {nxt.attempt} of 3" in log_text(
            attempts[-1]
        )
        Execution.objects.filter(pk=nxt.pk).update(due_at=timezone.now())  # skip the wait
        attempts.append(run(nxt))
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert all(a.status == "failed" for a in attempts)
    assert not Execution.objects.filter(deployment=d, attempt=4).exists()
    assert "no retry left (2 retries allowed)" in log_text(attempts[-1])


def test_a_successful_retry_ends_the_chain(deploy, tick, run):
    from deployments.models import ConfigVar

    d = deploy(config={"RECORD_EXIT_CODE": "1"}, policies={"max_retries": 3})
    first = run(tick(d))
    ConfigVar.objects.filter(key="RECORD_EXIT_CODE").update(value="0")
    retry = Execution.objects.get(deployment=d, attempt=2)
    Execution.objects.filter(pk=retry.pk).update(due_at=timezone.now())
    assert run(retry).status == "succeeded"
    assert not Execution.objects.filter(deployment=d, attempt=3).exists()
    assert first.status == "failed"


def test_run_now_with_payload_is_a_manual_run_with_the_payload(deploy, run, bob, carol):
    d = deploy(config={"RECORD_PRINT_ENV": "1"})
    e = execution_run_now(deployment=d, actor=bob, payload='{"dry_run": true, "limit": 3}')
    assert (e.trigger, e.status, e.triggered_by) == ("manual", "pending", bob)
    assert e.payload == {"dry_run": True, "limit": 3}
    e = run(e)
    env = env_of(e)
    assert env["CHORUS_TRIGGER"] == "manual"
    assert json.loads(env["CHORUS_PAYLOAD"]) == {"dry_run": True, "limit": 3}
    with pytest.raises(PermissionDenied):
        execution_run_now(deployment=d, actor=carol)
    with pytest.raises(ValidationError, match="not valid JSON"):
        execution_run_now(deployment=d, actor=bob, payload="{nope")


def test_run_now_keeps_the_concurrency_policy(deploy, tick, run, bob):
    d = deploy(policies={"concurrency_policy": "forbid"})
    busy = tick(d, seconds_ago=10)
    Execution.objects.filter(pk=busy.pk).update(status="running", started_at=timezone.now())
    e = run(execution_run_now(deployment=d, actor=bob))
    assert e.status == "skipped" and "overlap forbidden" in e.reason


def test_run_now_is_refused_once_undeployed_but_allowed_while_suspended(deploy, run, bob):
    from deployments.deploy.services.state import deployment_suspend, deployment_undeploy

    d = deploy()
    deployment_suspend(deployment=d, actor=bob)
    assert run(execution_run_now(deployment=d, actor=bob)).status == "succeeded"
    deployment_undeploy(deployment=d, actor=bob)
    with pytest.raises(ValidationError, match="undeployed"):
        execution_run_now(deployment=d, actor=bob)


def test_rerun_runs_the_same_image_and_payload_again(deploy, run, make_build, bob):
    from deployments.deploy.services.lifecycle import deployment_deploy

    d = deploy()
    original = run(execution_run_now(deployment=d, actor=bob, payload={"day": "2026-03-01"}))
    # A newer build is deployed meanwhile: the re-run still runs the original image.
    newer = make_build(image_ref="chorus/payments/nightly:newer")
    deployment_deploy(
        component=d.component, environment=d.environment, build=newer, schedule=d.schedule,
        timezone="UTC", actor=bob,
    )  # fmt: skip
    again = execution_rerun(execution=original, actor=bob)
    assert (again.trigger, again.parent_id, again.payload) == (
        "rerun",
        original.pk,
        original.payload,
    )
    assert again.image_ref == original.image_ref and again.build_id == original.build_id
    assert run(again).status == "succeeded"


def test_rerun_of_a_running_execution_is_refused(deploy, tick, bob):
    e = tick(deploy())
    with pytest.raises(ValidationError, match="not finished"):
        execution_rerun(execution=e, actor=bob)


def test_cancel_a_pending_execution_ends_it_at_once(deploy, tick, run, bob, carol):
    e = tick(deploy())
    with pytest.raises(PermissionDenied):
        execution_cancel(execution=e, actor=carol)
    e = execution_cancel(execution=e, actor=bob)
    assert (e.status, e.reason) == ("cancelled", "cancelled by bob before it started")
    assert run(e).outcome == "not pending"
    with pytest.raises(ValidationError, match="already cancelled"):
        execution_cancel(execution=e, actor=bob)


@pytest.mark.django_db(transaction=True)
def test_cancel_a_running_execution_stops_it_within_seconds(deploy, tick, run, bob):
    from django.db import connection

    d = deploy(config={"RECORD_SLEEP": "60"})
    e = tick(d)
    worker = threading.Thread(target=lambda: (run(e), connection.close()))
    worker.start()
    deadline = time.monotonic() + 10
    while Execution.objects.get(pk=e.pk).status != "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    asked = time.monotonic()
    execution_cancel(execution=e, actor=bob)
    worker.join(timeout=15)
    e.refresh_from_db()
    assert (e.status, e.reason) == ("cancelled", "cancelled by bob")
    assert time.monotonic() - asked < 6
    assert not e.cancel_requested or e.finished_at is not None


def test_skipped_missed_and_finished_executions_are_reported_to_observability(
    deploy, tick, run, django_capture_on_commit_callbacks, monkeypatch
):
    import observability.hooks

    seen = []
    monkeypatch.setattr(observability.hooks, "execution_finished", seen.append)
    d = deploy(policies={"starting_deadline_seconds": 10})
    with django_capture_on_commit_callbacks(execute=True):
        ok = run(tick(d))
        late = run(tick(d, seconds_ago=30))
    assert ok.pk in seen and late.pk in seen and late.status == "missed"


def test_context_count_ignores_skipped_and_missed(deploy, tick, run):
    d = deploy(config={"RECORD_PRINT_ENV": "1"}, policies={"starting_deadline_seconds": 10})
    run(tick(d, seconds_ago=40))  # missed
    e = run(tick(d))
    assert env_of(e)["CHORUS_EXECUTION_COUNT"] == "1"
    assert e.scheduled_for > timezone.now() - timedelta(seconds=5)


@pytest.mark.django_db(transaction=True)
def test_the_runs_of_one_instant_all_start_before_any_finishes(
    deploy, tick, make_component, monkeypatch
):
    """One worker process, twelve runs due at the same instant: the batch leader starts every
    one of them (record runtime: `quick_start`); none is finished before the last started.
    A run whose start fails ends failed with the reason; the others are not held up by it."""
    from django.db import connection

    from deployments.executions.run import execution_run
    from deployments.runtimes.record import RecordRuntime

    real_start = RecordRuntime.start

    def start(self, **kwargs):
        if kwargs["env"].get("RECORD_ECHO") == "explode":
            raise RuntimeError("the runtime refused to start it")
        return real_start(self, **kwargs)

    monkeypatch.setattr(RecordRuntime, "start", start)
    at = timezone.now().replace(microsecond=0) + timedelta(seconds=2)
    executions = []
    for n in range(12):
        c = make_component(f"together-{n}")
        echo = "explode" if n == 5 else "fine"
        d = deploy(component=c, config={"RECORD_ECHO": echo})
        executions.append(tick(d, at=at))
    due = at.timestamp()
    threads = [
        threading.Thread(
            target=lambda pk=e.pk: (
                execution_run(execution_id=pk, worker="one@host", due=due),
                connection.close(),
            )
        )
        for e in executions
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    rows = {e.pk: Execution.objects.get(pk=e.pk) for e in executions}
    broken = rows.pop(executions[5].pk)
    assert broken.status == "failed"
    assert "the runtime refused to start it" in broken.reason
    assert all(r.status == "succeeded" for r in rows.values())
    last_start = max(r.started_at for r in rows.values())
    assert all(r.finished_at >= last_start for r in rows.values())
    assert all(r.started_at >= at for r in rows.values())
    for r in rows.values():
        assert log_text(r).count("record runtime: started") == 1
        assert r.worker == "one@host"
