"""Registry faults, each with a real registry stopped (or changed) mid-way and the outcome a
user sees checked: the build fails saying so with nothing half-recorded, a deploy is refused
with the reason in the deploy log, a tick on an engine that has the image runs on, wrong
credentials are named, and a digest deleted by hand is reported on the deploy page and on
the run that could not pull it.

Everything runs on engine B (only these tests use it) with a registry of the test's own.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.core.exceptions import ValidationError

from deployments.deploy.services.lifecycle import deployment_deploy
from deployments.deploy.services.pulls import deployment_image_pull
from deployments.deploy.services.state import deployment_undeploy
from deployments.executions.actions import execution_run_now
from deployments.executions.run import execution_run
from deployments.models import Build, Deployment, DeploymentEvent, Execution
from tests.integration.builds.conftest import log_lines
from tests.support.builds import BUSYBOX_BASE
from tests.support.registry import DOCKER_B, RegistryProcess, has_image, remove_image

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.timeout(300)]

TASK = f'FROM {BUSYBOX_BASE}\nCMD ["/bin/busybox", "echo", "task ran"]\n'


def _build(run_build, component, made) -> Build:
    build = run_build(component)
    if build.image_digest:
        made.append(build.image_digest)
    return build


def _deploy(component, env, build, bob, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        return deployment_deploy(
            component=component, environment=env, build=build, schedule="@daily", actor=bob
        )


def _run_now(deployment, bob, django_capture_on_commit_callbacks) -> Execution:
    with django_capture_on_commit_callbacks(execute=False):
        execution = execution_run_now(deployment=deployment, actor=bob)
    execution_run(execution_id=execution.pk, worker="test@b", due=time.time())
    execution.refresh_from_db()
    return execution


def test_registry_down_during_the_build_fails_it_saying_so(
    on_b, registry, repo, make_component, run_build, docker_b
):
    _, made = on_b
    # A step of its own (never cached): the build runs a container while the registry stops.
    step = f"/bin/busybox sleep 3 # {uuid.uuid4().hex}"
    repo.commit({"Dockerfile": f'FROM {BUSYBOX_BASE}\nRUN {step}\nCMD ["/bin/busybox"]\n'})
    component = make_component(repo, "push-fails", preset="dockerfile")

    def stop_when_building() -> None:
        # The RUN step is a container on engine B: the build is under way, stop the registry.
        for _ in range(300):
            if docker_b.containers.list():
                registry.stop()
                return
            time.sleep(0.05)

    stopper = threading.Thread(target=stop_when_building)
    stopper.start()
    build = _build(run_build, component, made)
    stopper.join()

    lines = log_lines(build)
    assert build.status == Build.Status.FAILED
    assert "Pushing" in build.error and "to the registry failed" in build.error
    assert "connection refused" in build.error
    assert lines[-1] == f"Build failed: {build.error}"
    assert build.image_ref == "", "nothing half-recorded: no image to deploy"


def test_registry_down_during_a_deploy_refuses_it_with_the_reason(
    on_b, registry, repo, make_component, run_build, bob, django_capture_on_commit_callbacks
):
    env, made = on_b
    repo.commit({"Dockerfile": TASK})
    component = make_component(repo, "deploy-refused", preset="dockerfile")
    build = _build(run_build, component, made)
    assert build.status == Build.Status.SUCCEEDED, log_lines(build)[-5:]

    registry.stop()
    with pytest.raises(ValidationError) as refused:
        _deploy(component, env, build, bob, django_capture_on_commit_callbacks)

    message = " ".join(refused.value.messages)
    assert f"The registry at {registry.host} does not answer (connection refused)" in message
    assert not Deployment.objects.filter(component=component).exists()
    event = DeploymentEvent.objects.get(component=component)
    assert event.outcome == DeploymentEvent.Outcome.FAILED and message in event.message

    # Once deployed, a schedule change of the same build does not need the registry.
    registry.start()
    _deploy(component, env, build, bob, django_capture_on_commit_callbacks)
    registry.stop()
    with django_capture_on_commit_callbacks(execute=False):
        changed = deployment_deploy(
            component=component, environment=env, build=build, schedule="@hourly", actor=bob
        )
    assert changed.schedule == "@hourly"


def test_registry_down_during_a_tick_on_an_engine_with_the_image_runs_on(
    on_b, registry, repo, make_component, run_build, bob, django_capture_on_commit_callbacks
):
    env, made = on_b
    repo.commit({"Dockerfile": TASK})
    component = make_component(repo, "runs-on", preset="dockerfile")
    build = _build(run_build, component, made)
    deployment = _deploy(component, env, build, bob, django_capture_on_commit_callbacks)

    registry.stop()
    execution = _run_now(deployment, bob, django_capture_on_commit_callbacks)

    assert execution.status == Execution.Status.SUCCEEDED, execution.reason
    assert execution.image_digest == build.image_digest
    assert "task ran" in "\n".join(execution.log_lines.values_list("text", flat=True))


def test_wrong_credentials_are_named(
    on_b,
    tmp_path,
    build_settings,
    repo,
    make_component,
    run_build,
    bob,
    django_capture_on_commit_callbacks,
):
    env, made = on_b
    registry = RegistryProcess(tmp_path / "auth-registry", users={"chorus": "right-pass"}).start()
    try:
        build_settings.CHORUS_REGISTRY = f"{registry.host}/chorus"
        build_settings.CHORUS_REGISTRY_USERNAME = "chorus"
        build_settings.CHORUS_REGISTRY_PASSWORD = "right-pass"
        repo.commit({"Dockerfile": TASK})
        component = make_component(repo, "auth", preset="dockerfile")
        good = _build(run_build, component, made)
        assert good.status == Build.Status.SUCCEEDED, log_lines(good)[-5:]

        build_settings.CHORUS_REGISTRY_PASSWORD = "wrong-pass"
        with pytest.raises(ValidationError) as refused:
            _deploy(component, env, good, bob, django_capture_on_commit_callbacks)
        assert f"The registry at {registry.host} refused Chorus's credentials" in str(refused.value)
        bad = _build(run_build, component, made)
        assert bad.status == Build.Status.FAILED and bad.image_ref == ""
        assert bad.error == (
            f"The registry at {registry.host} refused Chorus's credentials "
            "(check CHORUS_REGISTRY_USERNAME and its password)."
        )
    finally:
        registry.stop()


def test_a_digest_deleted_by_hand_is_reported_where_users_look(
    on_b,
    registry,
    repo,
    make_component,
    run_build,
    alice,
    bob,
    docker_b,
    client_for,
    django_capture_on_commit_callbacks,
):
    env, made = on_b
    repo.commit({"Dockerfile": TASK})
    component = make_component(repo, "gone", preset="dockerfile")
    build = _build(run_build, component, made)
    deployment = _deploy(component, env, build, bob, django_capture_on_commit_callbacks)

    registry.delete_by_hand(build.image_ref)
    # The engine's copy is gone too (pruned by hand): the image exists nowhere any more.
    remove_image(docker_b, build.image_digest)
    assert not has_image(docker_b, build.image_digest)

    event = deployment_image_pull(deployment_id=deployment.pk)
    gone = (
        f"The image {build.image_ref} is gone from the registry at {registry.host} "
        "(deleted there?); build the component again."
    )
    assert event.outcome == DeploymentEvent.Outcome.FAILED
    assert event.message == f"Image not pulled ahead: {gone}"
    page = client_for(bob).get(f"/p/{component.project.slug}/c/{component.name}/deploy/")
    assert page.status_code == 200
    assert gone in page.content.decode()

    execution = _run_now(deployment, bob, django_capture_on_commit_callbacks)
    assert execution.status == Execution.Status.FAILED
    assert execution.reason.startswith(
        f"The image could not be pulled: Could not pull the image onto {DOCKER_B}: "
    )
    assert execution.reason.endswith("manifest unknown"), execution.reason

    # Deploying it again (after an undeploy) is refused, saying why.
    with django_capture_on_commit_callbacks(execute=False):
        deployment_undeploy(deployment=deployment, actor=bob)
    with pytest.raises(ValidationError) as refused:
        _deploy(component, env, build, alice, django_capture_on_commit_callbacks)
    assert gone in str(refused.value)
