"""The local runtime's held runs: the sandbox starts ahead of its tick and its task is held
until it, with a real beat and worker (deployments/runtimes/hold.py, HOLD_PY).

Two local deployments due at the same minute T: one runs; the other is suspended while its
sandbox is held, which removes it before its task begins.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.factories import sample_component
from tests.support.processes import flush_broker, start_beat, start_worker

from .live import Created, snapshot, wait_until
from .test_hold import HOLD_ENV, began, next_minute

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.timeout(300)]

# The task's first instruction prints the time it began; then the wrapper's exported time.
MAIN = (
    "import os, time\n"
    "print('task began %.6f' % time.time(), flush=True)\n"
    "print('wrapper said ' + os.environ.get('CHORUS_STARTED_AT', ''), flush=True)\n"
)


def held_runs(execution_id: int) -> list:
    from deployments.runtimes.local.runtime import LocalRuntime

    return [t for t in LocalRuntime().find({"chorus.execution": str(execution_id)}) if t.running]


@pytest.fixture(scope="module")
def local_held(django_db_setup, django_db_blocker, tmp_path_factory):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from deployments.deploy.services.lifecycle import deployment_deploy
    from deployments.deploy.services.state import deployment_suspend
    from deployments.models import Build, Environment, Execution
    from deployments.runtimes.local.runtime import LocalRuntime
    from portal.services import project_create

    source = tmp_path_factory.mktemp("held-local")
    (source / "Dockerfile").write_text('FROM x\nCMD ["python3", "-u", "main.py"]\n')
    (source / "main.py").write_text(MAIN)
    runtime = LocalRuntime()
    image = runtime.build(source_dir=source, tag="held-local", log=lambda *a: None)
    with django_db_blocker.unblock():
        created = Created()
        try:
            env = Environment.objects.create(
                name="Local hold", slug="local-hold", order=95, runtime_kind="local"
            )
            created.environments.append(env)
            owner = get_user_model().objects.create_user("hold-local", password="x-hold-pass-2")
            created.users.append(owner)
            project = project_create(name="Held local runs", actor=owner)
            created.projects.append(project)
            tick = next_minute(50)

            def deploy(name, n):
                c = sample_component(project, name, created_by=owner)
                build = Build.objects.create(
                    component=c, commit_sha=f"{n:040x}", status=Build.Status.SUCCEEDED,
                    preset="python", image_ref=image.ref, image_digest=image.digest,
                    runtime_kind="local", finished_at=timezone.now(),
                )  # fmt: skip
                return deployment_deploy(
                    component=c, environment=env, build=build,
                    schedule=f"@at {tick:%Y-%m-%dT%H:%M}", timezone="UTC", actor=owner,
                )  # fmt: skip

            plain = deploy("held-local", 201)
            suspended = deploy("suspended-local", 202)

            def run_of(d):
                return Execution.objects.filter(deployment=d, scheduled_for=tick).first()

            flush_broker()
            worker = start_worker(
                "exec-hold-local-worker",
                pool="threads",
                concurrency=10,
                queues="chorus,executions",
                extra_env=HOLD_ENV,
            )
            beat = start_beat("exec-hold-local-beat", extra_env=HOLD_ENV)
            result: dict = {"tick": tick}
            try:
                for name, d in (("plain", plain), ("suspended", suspended)):
                    try:
                        wait_until(
                            lambda d=d: run_of(d) and held_runs(run_of(d).pk),
                            timeout=120,
                            step=0.2,
                            what=f"{name}'s held sandbox",
                        )
                    except AssertionError:  # the snapshot shows what happened instead
                        result[f"{name}_seen_before_tick"] = False
                    else:
                        result[f"{name}_seen_before_tick"] = datetime.now(UTC) < tick
                deployment_suspend(deployment=suspended, actor=owner)
                wait_until(
                    lambda: (
                        Execution.objects.filter(
                            deployment__in=[plain, suspended], status__in=Execution.FINISHED
                        ).count()
                        >= 2
                    ),
                    timeout=120,
                    step=1,
                    what="both runs to finish",
                )
                result.update(plain=snapshot(plain), suspended=snapshot(suspended))
                result["left"] = held_runs(run_of(suspended).pk)
            finally:
                beat.stop()
                worker.stop()
        finally:
            created.delete()
            runtime.remove_image(image.ref)
    return result


def test_a_held_sandbox_exists_before_the_tick_and_its_task_begins_after_it(local_held):
    (run,) = local_held["plain"]
    assert local_held["plain_seen_before_tick"], run
    assert run["status"] == "succeeded", run
    task = began(run["log"], "task began")
    wrapper = began(run["log"], "wrapper said")
    assert local_held["tick"].timestamp() <= wrapper <= task
    # The execution's start is when the task began, as the wrapper reported it.
    assert run["started_at"] == datetime.fromtimestamp(wrapper, UTC)
    assert not any("chorus-began" in text for _, text in run["log"])


def test_suspending_during_the_lead_removes_the_held_sandbox_and_nothing_runs(local_held):
    (run,) = local_held["suspended"]
    assert local_held["suspended_seen_before_tick"], run
    assert run["status"] == "skipped"
    assert run["reason"].startswith("suspended before its tick")
    assert began(run["log"], "task began") is None
    assert local_held["left"] == []
