"""Runs started ahead of their tick and held until it, with a real beat, a real worker and the
Docker engine (deployments/executions/hold.py, deployments/runtimes/hold.py).

One scenario: three Docker deployments due at the same minute T. The worker's lead is made
long (CHORUS_HOLD_MARGIN_SECONDS) so the test can look at the held containers and act during it:
one deployment is suspended while its container is held, and a manual run of a Forbid deployment
is asked for while its tick's container is held. Each test checks one behaviour in the snapshot.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.factories import sample_component
from tests.support.processes import flush_broker, start_beat, start_worker

from .live import PROCESS_ENV, Created, containers_of, snapshot, task_image, wait_until

# django_db: so the session sets up the test database when this module runs alone.
pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.timeout(300)]

# The task's first instruction prints the time it began, read inside the container (busybox
# adjtimex: microseconds), then the begin time the hold wrapper exported.
TASK = (
    "adjtimex | awk '/status:/{st=$2} /tv_sec:/{s=$2} /tv_usec:/{u=$2} "
    'END{if (and(st, 8192)) u = int(u / 1000); printf "task began %d.%06d\\n", s, u}\'; '
    'echo "wrapper said $CHORUS_STARTED_AT"; sleep 2'
)
HOLD_ENV = {**PROCESS_ENV, "CHORUS_HOLD_MARGIN_SECONDS": "20"}


def docker_build(component, image: str, n: int):
    from django.utils import timezone

    from deployments.models import Build

    return Build.objects.create(
        component=component,
        commit_sha=f"{n:040x}",
        status=Build.Status.SUCCEEDED,
        preset="python",
        image_ref=image,
        image_digest=f"sha256:{n:064x}",
        runtime_kind="docker",
        finished_at=timezone.now(),
    )


def next_minute(at_least: float) -> datetime:
    """The first minute boundary at least `at_least` seconds from now."""
    t = datetime.now(UTC) + timedelta(seconds=at_least)
    return (t + timedelta(minutes=1)).replace(second=0, microsecond=0)


def began(log: list, prefix: str) -> float | None:
    for _stream, text in log:
        m = re.fullmatch(re.escape(prefix) + r" (\d+\.\d+)", text)
        if m:
            return float(m.group(1))
    return None


@pytest.fixture(scope="module")
def held(django_db_setup, django_db_blocker):
    from django.contrib.auth import get_user_model

    from deployments.deploy.services.lifecycle import deployment_deploy
    from deployments.deploy.services.state import deployment_suspend
    from deployments.executions.actions import execution_run_now
    from deployments.models import Environment, Execution
    from portal.services import project_create

    image = task_image(TASK)
    with django_db_blocker.unblock():
        created = Created()
        try:
            env = Environment.objects.create(
                name="Docker hold", slug="docker-hold", order=94, runtime_kind="docker"
            )
            created.environments.append(env)
            owner = get_user_model().objects.create_user("hold-owner", password="x-hold-pass-1")
            created.users.append(owner)
            project = project_create(name="Held runs", actor=owner)
            created.projects.append(project)
            tick = next_minute(50)

            def deploy(name, n, policy="allow"):
                c = sample_component(project, name, created_by=owner, entry_command="sh")
                return deployment_deploy(
                    component=c, environment=env, build=docker_build(c, image, n),
                    schedule=f"@at {tick:%Y-%m-%dT%H:%M}", timezone="UTC", actor=owner,
                    policies={"concurrency_policy": policy},
                )  # fmt: skip

            plain = deploy("held", 101)
            suspended = deploy("suspended", 102)
            forbid = deploy("forbid", 103, policy="forbid")

            def held_containers(deployment):
                run = Execution.objects.filter(deployment=deployment, scheduled_for=tick).first()
                return run and containers_of(run.pk)

            flush_broker()
            worker = start_worker(
                "exec-hold-worker",
                pool="threads",
                concurrency=20,
                queues="chorus,executions",
                extra_env=HOLD_ENV,
            )
            beat = start_beat("exec-hold-beat", extra_env=HOLD_ENV)
            result: dict = {"tick": tick}
            try:
                for name, d in (("plain", plain), ("suspended", suspended), ("forbid", forbid)):
                    result[f"{name}_held"] = wait_until(
                        lambda d=d: held_containers(d), timeout=120, step=0.2, what=name
                    )
                    result[f"{name}_seen_before_tick"] = datetime.now(UTC) < tick
                deployment_suspend(deployment=suspended, actor=owner)
                manual = execution_run_now(deployment=forbid, actor=owner)

                def all_done():
                    return (
                        Execution.objects.filter(
                            deployment__in=[plain, suspended, forbid],
                            status__in=Execution.FINISHED,
                        ).count()
                        >= 4
                    )

                wait_until(all_done, timeout=150, step=1, what="every run to finish")
                result.update(
                    plain=snapshot(plain),
                    suspended=snapshot(suspended),
                    forbid=snapshot(forbid),
                    manual_pk=manual.pk,
                )
                runs = [e["pk"] for e in result["plain"] + result["suspended"] + result["forbid"]]
                # A loaded engine may take its time removing them (the reconciler retries).
                try:
                    wait_until(
                        lambda: not any(containers_of(pk) for pk in runs), timeout=60, step=1
                    )
                except AssertionError:
                    pass  # the tests say which one is left
                result["left"] = {pk: containers_of(pk) for pk in runs}
            finally:
                beat.stop()
                worker.stop()
            result["worker_log"] = worker.output()
        finally:
            created.delete()
    return result


def test_a_held_container_exists_before_the_tick_and_its_task_begins_after_it(held):
    assert held["plain_held"] and held["plain_seen_before_tick"]
    (run,) = held["plain"]
    assert run["status"] == "succeeded"
    assert run["container_id"] == held["plain_held"][0]
    assert began(run["log"], "task began") >= held["tick"].timestamp()
    assert any(stream == "chorus" and "held until" in text for stream, text in run["log"]), run[
        "log"
    ]
    # The wrapper's own line is not task output.
    assert not any("chorus-began" in text for _, text in run["log"])
    assert held["left"][run["pk"]] == []


def test_the_execution_records_when_the_task_really_began(held):
    (run,) = held["plain"]
    wrapper = began(run["log"], "wrapper said")
    task = began(run["log"], "task began")
    assert run["started_at"] == datetime.fromtimestamp(wrapper, UTC)
    # The wrapper reads the clock, execs the task, and the task reads it again.
    assert held["tick"].timestamp() <= wrapper <= task
    assert run["fire_lag"] == pytest.approx(wrapper - held["tick"].timestamp(), abs=1e-5)


def test_suspending_during_the_lead_removes_the_held_container_and_nothing_runs(held):
    assert held["suspended_held"] and held["suspended_seen_before_tick"]
    (run,) = held["suspended"]
    assert run["status"] == "skipped", run
    assert run["reason"].startswith("suspended before its tick")
    assert run["started_at"] is None
    assert began(run["log"], "task began") is None
    assert held["left"][run["pk"]] == []


def test_forbid_counts_a_held_container_as_running(held):
    assert held["forbid_held"] and held["forbid_seen_before_tick"]
    tick_run = next(e for e in held["forbid"] if e["trigger"] == "schedule")
    manual = next(e for e in held["forbid"] if e["pk"] == held["manual_pk"])
    assert manual["status"] == "skipped"
    assert manual["reason"] == f"overlap forbidden (execution #{tick_run['pk']} still running)"
    # The held run itself went ahead at its tick.
    assert tick_run["status"] == "succeeded"
    assert began(tick_run["log"], "task began") >= held["tick"].timestamp()


def test_the_worker_measures_the_engine_start_rate(held):
    assert re.search(r"held \d+ docker run\(s\) started in", held["worker_log"])
