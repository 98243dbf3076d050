"""Runs are pinned to the image their deployment holds (issue: runs started by mutable tag).

A rebuild of the same commit with other content (the component's path changed) moves the tag
`chorus/<project>/<component>:<sha12>`; Production must still run the promoted image, and the
execution must record what the engine really started.

The Docker test runs on engine B (scripts/services.sh), which only these tests use: its
containers sleep a moment so the engine's own inspect can see them, and on the shared engine
another Chorus's reconciler could stop a container it does not know.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from deployments.builds.baseimages.busybox import ensure_busybox_image
from deployments.deploy.services.lifecycle import deployment_deploy, deployment_promote
from deployments.executions.actions import execution_run_now
from deployments.executions.run import execution_run
from deployments.models import Build, Environment, Execution
from deployments.runtimes.base import Limits
from deployments.runtimes.local.runtime import LocalRuntime
from tests.support.builds import BUSYBOX_BASE
from tests.support.registry import DOCKER_B, DOCKER_B_NETWORK, engine_b, remove_image

from .conftest import log_lines

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _task(word: str) -> dict[str, str]:
    # Sleeps so the test can inspect the running container with the engine's own API.
    return {
        f"{word}/Dockerfile": (
            f"FROM {BUSYBOX_BASE}\n"
            f'CMD ["/bin/busybox", "sh", "-c", "echo ran-{word}; /bin/busybox sleep 3"]\n'
        )
    }


def _run(execution: Execution, client) -> tuple[Execution, str]:
    """Run `execution` here as a worker would; returns it and the image id the engine gives
    for its container while it runs (docker inspect)."""
    seen: list[str] = []

    def watch() -> None:
        for _ in range(200):
            found = client.containers.list(filters={"label": f"chorus.execution={execution.pk}"})
            if found:
                seen.append(client.api.inspect_container(found[0].id)["Image"])
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    execution_run(execution_id=execution.pk, worker="test@host", due=time.time())
    connection.close()
    watcher.join()
    execution.refresh_from_db()
    return execution, (seen or [""])[0]


@pytest.fixture
def docker_b():
    client = engine_b()
    ensure_busybox_image(client, tag=BUSYBOX_BASE, log=lambda line: None)
    made: list[str] = []
    yield client, made
    for ref in made:
        remove_image(client, ref)
    client.close()


def test_production_runs_the_promoted_image_after_a_rebuild_moves_the_tag(
    docker_b,
    build_settings,
    repo,
    make_component,
    run_build,
    alice,
    bob,
    django_capture_on_commit_callbacks,
):
    client, made = docker_b
    dev, prod = Environment.objects.get(slug="dev"), Environment.objects.get(slug="prod")
    for env in (dev, prod):
        env.runtime_kind, env.docker_host, env.docker_network = "docker", DOCKER_B, DOCKER_B_NETWORK
        env.save()  # through save(): the runtimes' environment cache follows it
    sha = repo.commit({**_task("a"), **_task("b")})
    component = make_component(repo, "pinned", preset="dockerfile", path="a")
    x = run_build(component)
    assert x.status == Build.Status.SUCCEEDED, log_lines(x)[-5:]
    made.append(x.image_digest)

    with django_capture_on_commit_callbacks(execute=True):
        deployment_deploy(
            component=component, environment=dev, build=x, schedule="@daily", actor=bob
        )
    dev_run, _ = _run(execution_run_now(deployment=component.deployments.get(), actor=bob), client)
    assert dev_run.status == Execution.Status.SUCCEEDED
    with django_capture_on_commit_callbacks(execute=True):
        prod_deployment = deployment_promote(
            component=component, source_env=dev, target_env=prod, actor=alice
        )

    # A developer changes the path and builds the same commit again: the tag moves.
    component.path = "b"
    component.save()
    y = run_build(component)
    made.append(y.image_digest)
    assert y.status == Build.Status.SUCCEEDED and y.commit_sha == x.commit_sha == sha
    assert client.images.get(f"chorus/payments/pinned:{sha[:12]}").id == y.image_digest
    assert y.image_digest != x.image_digest

    with django_capture_on_commit_callbacks(execute=False):
        queued = execution_run_now(deployment=prod_deployment, actor=alice)
    prod_run, engine_image = _run(queued, client)

    assert prod_run.status == Execution.Status.SUCCEEDED, prod_run.reason
    assert engine_image == x.image_digest, "the engine started the promoted image"
    assert prod_run.image_digest == x.image_digest, "the execution records what ran"
    assert prod_run.image_ref == x.image_digest
    text = "\n".join(prod_run.log_lines.values_list("text", flat=True))
    assert "ran-a" in text and "ran-b" not in text


def test_a_local_image_is_never_changed_by_a_rebuild(build_settings, repo, make_component):
    """The local runtime's image directory is named by its digest: a rebuild of the same
    commit with another command makes a new directory, and the deployed one runs as before."""
    from deployments.builds.execute import build_execute
    from deployments.builds.services import build_queue

    build_settings.CHORUS_DEFAULT_RUNTIME = "local"
    repo.commit(
        {
            "a/Dockerfile": 'FROM python:3\nCMD ["python3", "main.py"]\n',
            "a/main.py": "print('ran-a')\n",
            "b/Dockerfile": 'FROM python:3\nCMD ["python3", "main.py"]\n',
            "b/main.py": "print('ran-b')\n",
        }
    )
    component = make_component(repo, "pinned-local", preset="dockerfile", path="a")

    def build() -> Build:
        b = build_queue(component=component, actor=None)
        build_execute(build_id=b.pk)
        b.refresh_from_db()
        assert b.status == Build.Status.SUCCEEDED, log_lines(b)[-5:]
        return b

    x = build()
    before = {p: p.read_bytes() for p in sorted(_files(x.image_ref))}
    component.path = "b"
    component.save()
    y = build()
    assert y.image_ref != x.image_ref and y.image_digest != x.image_digest
    assert {p: p.read_bytes() for p in sorted(_files(x.image_ref))} == before

    lines: list[str] = []
    result = LocalRuntime().run(
        image=x.image_ref,
        env={},
        limits=Limits(),
        timeout=30,
        log=lambda line, stream="stdout": lines.append(line),
    )
    assert result.exit_code == 0 and lines == ["ran-a"]
    assert result.image_id == x.image_digest


def _files(ref: str):
    from pathlib import Path

    root = Path(ref)
    return [p for p in root.rglob("*") if p.is_file() and "venv" not in p.parts]
