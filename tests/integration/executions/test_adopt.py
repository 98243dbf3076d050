"""A worker killed (SIGKILL) in the middle of a run whose container goes on to its end: the
reconciler adopts what the engine kept. Every line the task printed is in the log once, in
order (also those printed after the worker died), the exit code is the container's, and the
duration is the container's own, not the time until the reconciler came by."""

from __future__ import annotations

import signal

import pytest

from tests.support.processes import flush_broker, start_beat, start_worker

from .live import PROCESS_ENV, Created, containers_of, snapshot, task_image, wait_until
from .test_live import live_build, live_component

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

LINES = 12
# Twelve lines, half a second apart (about 6 s), a line on stderr, then exit code 3.
SCRIPT = (
    f"i=1; while [ $i -le {LINES} ]; do echo line-$i; i=$((i+1)); sleep 0.5; done; "
    "echo the-end >&2; exit 3"
)


@pytest.fixture(scope="module")
def adopted(django_db_setup, django_db_blocker):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from deployments.deploy.services.lifecycle import deployment_deploy
    from deployments.executions.actions import execution_run_now
    from deployments.models import Environment, Execution, ExecutionLogLine
    from portal.services import project_create

    image = task_image(SCRIPT)
    with django_db_blocker.unblock():
        created = Created()
        try:
            env = Environment.objects.create(
                name="Docker adopt", slug="docker-adopt", order=95, runtime_kind="docker"
            )
            created.environments.append(env)
            owner = get_user_model().objects.create_user("adopt-owner", password="x-adopt-1")
            created.users.append(owner)
            project = project_create(name="Adopt", actor=owner)
            created.projects.append(project)
            c = live_component(project, owner, "printer")
            d = deployment_deploy(
                component=c, environment=env, build=live_build(c, image, 31),
                schedule="0 0 1 1 *", timezone="UTC", actor=owner,
                policies={"timeout_seconds": 600},
            )  # fmt: skip
            flush_broker()
            runner = start_worker(
                "adopt-doomed-worker", pool="threads", concurrency=4, queues="executions",
                extra_env=PROCESS_ENV,
            )  # fmt: skip
            keeper = start_worker(
                "adopt-keeper-worker", pool="threads", concurrency=4, queues="chorus",
                extra_env=PROCESS_ENV,
            )  # fmt: skip
            beat = start_beat("adopt-keeper-beat", extra_env=PROCESS_ENV)
            try:
                e = execution_run_now(deployment=d, actor=owner)
                wait_until(
                    lambda: ExecutionLogLine.objects.filter(execution_id=e.pk, text="line-2"),
                    timeout=60,
                    step=0.1,
                    what="the task's second line to be stored",
                )
                containers = containers_of(e.pk)
                runner.kill(signal.SIGKILL)
                killed = timezone.now()
                # The container goes on without its worker.
                stored_at_kill = ExecutionLogLine.objects.filter(
                    execution_id=e.pk, text__startswith="line-"
                ).count()
                ended = wait_until(
                    lambda: (
                        Execution.objects.get(pk=e.pk).is_finished
                        and Execution.objects.get(pk=e.pk)
                    ),
                    timeout=90,
                    what="the reconciler to end the execution",
                )
                result = {
                    "row": next(r for r in snapshot(d) if r["pk"] == e.pk),
                    "killed": killed,
                    "reconciled": ended.log_lines.order_by("-seq").first().ts,
                    "stored_at_kill": stored_at_kill,
                    "containers": containers,
                    "left": containers_of(e.pk),
                    "duration": ended.duration_seconds,
                }
            finally:
                beat.stop()
                keeper.stop()
                runner.stop()
        finally:
            created.delete()
    return result


def test_every_line_the_task_printed_is_in_the_log_once_and_in_order(adopted):
    log = adopted["row"]["log"]
    task_lines = [(stream, text) for stream, text in log if stream != "chorus"]
    expected = [("stdout", f"line-{i}") for i in range(1, LINES + 1)] + [("stderr", "the-end")]
    assert task_lines == expected, log
    # Most of them were printed after the worker died: the engine's copy filled the gap.
    assert adopted["stored_at_kill"] < LINES - 4
    assert any("the worker was lost" in text for stream, text in log if stream == "chorus")


def test_the_outcome_is_the_container_s_exit_code(adopted):
    row = adopted["row"]
    assert (row["status"], row["exit_code"]) == ("failed", 3)
    assert row["reason"] == "exit code 3 (its worker was lost meanwhile)"
    assert len(adopted["containers"]) == 1 and adopted["left"] == []


def test_the_times_are_the_container_s_own(adopted):
    row = adopted["row"]
    # About 6 s of printing; the reconciler only came 8 s (stale heartbeat) or more later.
    assert 5 <= adopted["duration"] < 9, adopted["duration"]
    assert row["finished_at"] < adopted["reconciled"]
    assert (row["finished_at"] - row["started_at"]).total_seconds() == pytest.approx(
        adopted["duration"], abs=0.01
    )
