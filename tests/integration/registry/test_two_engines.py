"""Build on engine A, push, deploy to Development on A, promote to Production on engine B.

Production's runs go to the queue `executions.prod`, served by a Celery worker of its own
whose DOCKER_HOST is engine B (as on a second host). B has never seen the image before the
promotion; the promotion pulls it there by digest ahead of the first run; B's own inspect of
the running container shows the promoted image.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from deployments.deploy.services.lifecycle import deployment_deploy, deployment_promote
from deployments.executions.actions import execution_run_now
from deployments.executions.run import execution_run
from deployments.models import Build, DeploymentEvent, Execution
from deployments.registry import registry_from_settings
from tests.integration.builds.conftest import log_lines
from tests.integration.executions.live import wait_until
from tests.support.builds import BUSYBOX_BASE, docker_client
from tests.support.processes import flush_broker, start_worker
from tests.support.registry import (
    DOCKER_B,
    DOCKER_B_NETWORK,
    has_image,
    remove_image,
    shared_registry,
)

from .conftest import docker_env

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(300),
]

# Production's run sleeps so B's own inspect can see it; Development's ends at once (engine A
# is shared: another Chorus's reconciler there may stop a container it does not know).
TASK = (
    f"FROM {BUSYBOX_BASE}\n"
    'CMD ["/bin/busybox", "sh", "-c", "echo hello from $CHORUS_ENVIRONMENT; '
    'if [ $CHORUS_ENVIRONMENT = prod ]; then /bin/busybox sleep 3; fi"]\n'
)


def _watch_container(client, execution_id: int, seen: list) -> threading.Thread:
    """Record the image id engine `client` reports for the execution's container."""

    def watch() -> None:
        for _ in range(600):
            found = client.containers.list(filters={"label": f"chorus.execution={execution_id}"})
            if found:
                seen.append(client.api.inspect_container(found[0].id)["Image"])
                return
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_build_on_a_promote_to_production_on_engine_b(
    base_images,
    build_settings,
    repo,
    make_component,
    run_build,
    docker_b,
    alice,
    bob,
):
    build_settings.CHORUS_REGISTRY = shared_registry()
    dev = docker_env("dev")
    prod = docker_env(
        "prod", docker_host=DOCKER_B, docker_network=DOCKER_B_NETWORK, queue="executions.prod"
    )
    repo.commit({"Dockerfile": TASK})
    component = make_component(repo, "two-hosts", preset="dockerfile")

    build = run_build(component)
    lines = log_lines(build)
    assert build.status == Build.Status.SUCCEEDED, lines[-5:]
    repository = registry_from_settings().repository(project="payments", component="two-hosts")
    assert build.image_ref.startswith(f"{repository}@sha256:")
    assert f"Pushed: {build.image_ref}" in lines
    assert registry_from_settings().manifest_exists(build.image_ref)
    engine_a = docker_client()
    assert engine_a.images.get(build.image_ref).id == build.image_digest

    # Development, on engine A, run here as its worker would.
    deployment_deploy(
        component=component, environment=dev, build=build, schedule="@daily", actor=bob
    )
    dev_run = execution_run_now(deployment=component.deployments.get(environment=dev), actor=bob)
    execution_run(execution_id=dev_run.pk, worker="dev@a", due=time.time())
    dev_run.refresh_from_db()
    assert dev_run.status == Execution.Status.SUCCEEDED, list(
        dev_run.log_lines.values_list("text", flat=True)
    )

    flush_broker()
    worker_b = start_worker(
        "executions-b",
        queues="executions.prod",
        pool="threads",
        concurrency=4,
        extra_env={
            "DOCKER_HOST": DOCKER_B,
            "CHORUS_DOCKER_NETWORK": DOCKER_B_NETWORK,
            "CHORUS_REGISTRY": build_settings.CHORUS_REGISTRY,
        },
    )
    try:
        assert not has_image(docker_b, build.image_digest), "B had no copy before the promotion"
        production = deployment_promote(
            component=component, source_env=dev, target_env=prod, actor=alice
        )
        pulled = wait_until(
            lambda: DeploymentEvent.objects.filter(
                deployment=production, kind=DeploymentEvent.Kind.PULL
            ).first(),
            timeout=120,
            what="the pull ahead on engine B",
        )
        assert pulled.outcome == DeploymentEvent.Outcome.OK, pulled.message
        assert pulled.message == f"Pulled {build.image_ref} onto {DOCKER_B} ahead of its runs"
        assert docker_b.images.get(build.image_ref).id == build.image_digest

        seen: list[str] = []
        queued = execution_run_now(deployment=production, actor=alice)
        watcher = _watch_container(docker_b, queued.pk, seen)
        done = wait_until(
            lambda: Execution.objects.filter(pk=queued.pk, status__in=Execution.FINISHED).first(),
            timeout=120,
            what="the Production run on engine B",
        )
        watcher.join(timeout=5)
        assert done.status == Execution.Status.SUCCEEDED, (done.reason, worker_b.output()[-2000:])
        assert seen == [build.image_digest], "B's inspect: the container runs the promoted image"
        assert done.worker.startswith("executions-b@")
        assert done.image_ref == build.image_ref and done.image_digest == build.image_digest
        text = "\n".join(done.log_lines.values_list("text", flat=True))
        assert "hello from prod" in text
        assert not engine_a.containers.list(
            all=True, filters={"label": f"chorus.execution={queued.pk}"}
        )
    finally:
        worker_b.stop()
        connection.close()
        remove_image(docker_b, build.image_digest)
        remove_image(engine_a, build.image_digest)
        engine_a.close()
