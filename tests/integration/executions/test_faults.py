"""Faults with real processes: two beats at once, beats killed with SIGKILL and restarted, a
worker killed with SIGKILL in the middle of a container run.

Two compact scenarios (see live.py); each test checks one property of their snapshots.
"""

from __future__ import annotations

import re
import signal
import time
from datetime import timedelta

import pytest

from deployments.installation import LABEL, installation_id
from tests.support.processes import flush_broker, start_beat, start_worker

from .live import PROCESS_ENV, Created, containers_of, snapshot, task_image, wait_until
from .test_live import live_build, live_component

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _project(created: Created, username: str, name: str):
    from django.contrib.auth import get_user_model

    from portal.services import project_create

    owner = get_user_model().objects.create_user(username, password="x-fault-pass-1")
    created.users.append(owner)
    project = project_create(name=name, actor=owner)
    created.projects.append(project)
    return owner, project


# --- beats: two at once, then killed, then back -------------------------------------------------
@pytest.fixture(scope="module")
def beats(django_db_setup, django_db_blocker):
    from django.utils import timezone

    from deployments.deploy.services.config import config_set
    from deployments.deploy.services.lifecycle import deployment_deploy
    from deployments.models import Environment

    with django_db_blocker.unblock():
        created = Created()
        try:
            env = Environment.objects.create(
                name="Record faults", slug="record-faults", order=92, runtime_kind="record"
            )
            created.environments.append(env)
            owner, project = _project(created, "fault-beats", "Beat faults")
            deployments = {}
            for n, policy in enumerate(("none", "latest", "all"), start=1):
                c = live_component(project, owner, f"every2s-{policy}")
                config_set(
                    component=c, environment=env, key="RECORD_PRINT_ENV", value="0",
                    is_secret=False, actor=owner,
                )  # fmt: skip
                deployments[policy] = deployment_deploy(
                    component=c, environment=env, build=live_build(c, "record", 10 + n),
                    schedule="@every 2s", timezone="UTC", actor=owner,
                    policies={
                        "concurrency_policy": "allow",
                        "starting_deadline_seconds": 1,
                        "catchup_policy": policy,
                        "catchup_window_seconds": 600,
                    },
                )  # fmt: skip
            flush_broker()
            worker = start_worker(
                "exec-fault-worker", pool="threads", concurrency=20,
                queues="chorus,executions", extra_env=PROCESS_ENV,
            )  # fmt: skip
            procs = [worker]
            try:
                first = start_beat("exec-fault-beat-1", extra_env=PROCESS_ENV)
                second = start_beat("exec-fault-beat-2", extra_env=PROCESS_ENV)
                procs += [first, second]
                time.sleep(9)  # both beats handle the same ticks
                killed_at = timezone.now()
                first.kill(signal.SIGKILL)
                second.kill(signal.SIGKILL)
                time.sleep(12)  # nobody schedules: these ticks are missed
                back_at = timezone.now()
                third = start_beat("exec-fault-beat-3", extra_env=PROCESS_ENV)
                procs.append(third)
                # Room for the new beat to start and catch up even on a busy 2-core machine.
                time.sleep(12)
                third.stop()
                time.sleep(3)  # let the last runs finish
                result = {
                    "rows": {p: snapshot(d) for p, d in deployments.items()},
                    "killed_at": killed_at,
                    "back_at": back_at,
                    "two_beat_logs": [first.output(), second.output()],
                }
            finally:
                for p in procs:
                    p.stop()
        finally:
            created.delete()
    return result


def _assert_every_tick_once(rows):
    from deployments.schedules.parsing import parse_schedule

    ticks = [e["scheduled_for"] for e in rows if e["attempt"] == 1]
    assert len(ticks) == len(set(ticks)), "a tick has two executions"
    expected = parse_schedule("@every 2s").ticks_between(
        ticks[0] - timedelta(microseconds=1), ticks[-1]
    )
    assert ticks == expected, "a tick has no execution"


def test_every_tick_is_recorded_exactly_once(beats):
    for rows in beats["rows"].values():
        assert len(rows) >= 10
        _assert_every_tick_once(rows)


def test_no_tick_ran_twice_with_two_beats(beats):
    for rows in beats["rows"].values():
        for e in rows:
            starts = [t for s, t in e["log"] if t.startswith("record runtime: started")]
            assert len(starts) <= 1
            if e["status"] == "succeeded":
                assert len(starts) == 1
    # Both beats were really at work on the same ticks.
    for log in beats["two_beat_logs"]:
        assert "ChorusScheduler: tick" in log
    both = "".join(beats["two_beat_logs"])
    assert re.search(r"[1-9]\d* already claimed", both)


def _outage(rows, beats):
    """Ticks that passed while no beat ran: after those the killed beats had already sent
    (they publish runs up to CHORUS_BEAT_LEAD_SECONDS ahead), before the new beat started."""
    from deployments.executions.scheduler import LEAD_SECONDS

    start = beats["killed_at"] + timedelta(seconds=LEAD_SECONDS + 1)
    return [e for e in rows if start < e["scheduled_for"] < beats["back_at"]]


def test_missed_ticks_follow_the_catchup_policy_none(beats):
    outage = _outage(beats["rows"]["none"], beats)
    assert len(outage) >= 3
    for e in outage:
        assert e["status"] == "missed" and e["reason"].startswith("scheduler down")


def test_missed_ticks_follow_the_catchup_policy_latest(beats):
    outage = _outage(beats["rows"]["latest"], beats)
    assert len(outage) >= 3
    caught = [e for e in outage if e["trigger"] == "catchup"]
    assert len(caught) <= 1
    assert all(e["status"] == "missed" for e in outage if e["trigger"] != "catchup")
    if caught:
        assert caught[0]["status"] == "succeeded"
        assert caught[0]["scheduled_for"] == max(e["scheduled_for"] for e in outage)


def test_missed_ticks_follow_the_catchup_policy_all(beats):
    outage = _outage(beats["rows"]["all"], beats)
    assert len(outage) >= 3
    assert all(e["trigger"] == "catchup" for e in outage)
    assert all(e["status"] == "succeeded" for e in outage)


# --- a worker killed mid-run ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def worker_lost(django_db_setup, django_db_blocker):
    from django.utils import timezone

    from deployments.deploy.services.lifecycle import deployment_deploy
    from deployments.executions.actions import execution_run_now
    from deployments.models import Environment, Execution

    image = task_image("echo started; sleep 300")
    with django_db_blocker.unblock():
        created = Created()
        orphan = None
        try:
            dev = Environment.objects.create(
                name="Docker faults", slug="docker-faults", order=94, runtime_kind="docker"
            )
            created.environments.append(dev)
            owner, project = _project(created, "fault-worker", "Worker faults")
            c = live_component(project, owner, "sleeper")
            d = deployment_deploy(
                component=c, environment=dev, build=live_build(c, image, 21), schedule="0 0 1 1 *",
                timezone="UTC", actor=owner, policies={"timeout_seconds": 600},
            )  # fmt: skip
            flush_broker()
            runner = start_worker(
                "exec-doomed-worker", pool="threads", concurrency=4, queues="executions",
                extra_env=PROCESS_ENV,
            )  # fmt: skip
            keeper = start_worker(
                "exec-keeper-worker", pool="threads", concurrency=4, queues="chorus",
                extra_env=PROCESS_ENV,
            )  # fmt: skip
            beat = start_beat("exec-keeper-beat", extra_env=PROCESS_ENV)
            try:
                e = execution_run_now(deployment=d, actor=owner)
                wait_until(
                    lambda: (
                        containers_of(e.pk) and Execution.objects.get(pk=e.pk).status == "running"
                    ),
                    timeout=30,
                    what="the container to run",
                )
                time.sleep(1)
                # A container of a finished execution, left behind: an orphan to remove.
                client = __import__(
                    "tests.integration.executions.live", fromlist=["docker_client"]
                ).docker_client()
                orphan = client.containers.run(
                    image, detach=True,
                    labels={"chorus.managed": "true", "chorus.execution": "999999999",
                            "org.chorus.managed": "true", LABEL: installation_id()},
                )  # fmt: skip
                client.close()
                killed = timezone.now()
                runner.kill(signal.SIGKILL)
                ended = wait_until(
                    lambda: (
                        Execution.objects.get(pk=e.pk).is_finished
                        and Execution.objects.get(pk=e.pk)
                    ),
                    timeout=70,
                    what="the reconciler to end the execution",
                )
                wait_until(lambda: not containers_of(999999999), timeout=30, what="orphan removal")
                result = {
                    "row": next(r for r in snapshot(d) if r["pk"] == e.pk),
                    "ended_after": (ended.finished_at - killed).total_seconds(),
                    "left": containers_of(e.pk),
                    "orphan_left": containers_of(999999999),
                }
            finally:
                beat.stop()
                keeper.stop()
                runner.stop()
        finally:
            if orphan is not None:
                try:
                    orphan.remove(force=True)
                except Exception:  # noqa: BLE001 - already removed by the reconciler
                    pass
            created.delete()
    return result


def test_a_killed_worker_s_execution_ends_honestly_within_a_minute(worker_lost):
    row = worker_lost["row"]
    assert row["status"] == "failed"
    assert row["reason"] == "worker lost (the container was stopped)"
    assert ("stdout", "started") in row["log"]
    assert worker_lost["ended_after"] < 60


def test_no_container_is_left_behind(worker_lost):
    assert worker_lost["left"] == []
    assert worker_lost["orphan_left"] == []
