"""Builds with the real Docker engine, from real git repositories, then run with the runtime."""

from __future__ import annotations

import http.server
import shutil
import threading
import time

import pytest

from deployments.models import Build, Environment
from deployments.runtimes import get_runtime
from deployments.runtimes.base import Limits
from deployments.runtimes.docker.runtime import DockerRuntime
from tests.support.builds import docker_client, host_address_for_containers, sample_files

from .conftest import log_lines

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

SESSIONS = b'[{"id": "s-1", "user": "alice", "last_seen": "2024-05-01T09:00:00Z"}]\n'


class Collect:
    def __init__(self):
        self.lines: list[tuple[str, str]] = []

    def __call__(self, line, stream="stdout"):
        self.lines.append((stream, line))

    def text(self, stream="stdout") -> str:
        return "\n".join(line for s, line in self.lines if s == stream)


@pytest.fixture
def http_endpoint():
    """An HTTP server on the host, reachable from containers at the host's bridge address."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("0.0.0.0", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = docker_client()
    host = host_address_for_containers(client)
    client.close()
    yield f"http://{host}:{server.server_address[1]}/health"
    server.shutdown()


def test_dockerfile_sample_from_local_git_builds_and_runs(
    base_images, build_settings, repo, make_component, run_build, http_endpoint
):
    sha = repo.commit(sample_files("health-check", prefix="tasks/health/"), message="health check")
    component = make_component(repo, "health", preset="dockerfile", path="tasks/health")

    build = run_build(component)

    lines = log_lines(build)
    assert build.status == Build.Status.SUCCEEDED, lines[-5:]
    assert build.commit_sha == sha and build.commit_message == "health check"
    # Runs start the image id, never the tag (a rebuild of the commit moves the tag).
    assert build.image_ref == build.image_digest and build.image_digest.startswith("sha256:")
    client = docker_client()
    assert client.images.get(f"chorus/payments/health:{sha[:12]}").id == build.image_digest
    client.close()
    assert build.runtime_kind == "docker" and build.error == ""
    assert "Base image: chorus/python:3-debian (build-arg BASE_IMAGE)" in lines
    assert any(line.startswith("Step 1/") for line in lines)
    assert lines[-1] == f"Build succeeded: {build.image_ref}"
    assert build.started_at <= build.finished_at

    out = Collect()
    started: list[str] = []
    # Chorus's task network keeps tasks off the host's ports; the endpoint is on the host, so
    # this environment is on Docker's default bridge (an administrator's choice).
    dev = Environment.objects.get(slug="dev")
    dev.docker_network = "bridge"
    result = get_runtime(dev).run(
        image=build.image_ref,
        env={"HEALTHCHECK_URL": http_endpoint, "HEALTHCHECK_EXPECT_STATUS": "204"},
        limits=Limits(memory_mb=256, cpus=0.5, pids=64),
        timeout=60,
        log=out,
        labels={"org.chorus.test": "health"},
        on_start=started.append,
    )
    assert result.exit_code == 0, out.lines
    assert not result.timed_out and not result.error
    assert started == [result.container_id]
    assert f"Healthy: {http_endpoint} answered 204" in out.text()
    assert DockerRuntime().find({"org.chorus.test": "health"}) == [], "container removed"


def test_python_preset_sample_builds_offline_and_runs(
    base_images, build_settings, repo, make_component, run_build
):
    repo.commit({**sample_files("session-timeout-logger"), "sessions.json": SESSIONS})
    component = make_component(repo, "sessions", preset="python")

    build = run_build(component)

    lines = log_lines(build)
    assert build.status == Build.Status.SUCCEEDED, lines[-5:]
    assert "Generated Dockerfile (Python preset):" in lines
    assert '  CMD ["python3", "main.py"]' in lines  # the entry from the sample's chorus.toml
    assert not any("pip install" in line for line in lines), "no dependencies: no index needed"

    out = Collect()
    result = DockerRuntime().run(
        image=build.image_ref,
        env={
            "SESSIONS_URL": "/app/sessions.json",
            "SESSION_TIMEOUT_MINUTES": "30",
            "CHORUS_SCHEDULED_AT": "2024-05-01T10:00:00+00:00",
        },
        limits=Limits(),
        timeout=60,
        log=out,
    )
    assert result.exit_code == 0, out.lines
    assert "Session s-1 of alice timed out (idle 60 min)" in out.text()
    assert "1 timed out, 0 active" in out.text()


@pytest.mark.parametrize(
    ("dockerfile", "engine_line"),
    [
        ("FROM chorus/busybox:latest\nFORM nothing\n", "unknown instruction: FORM"),
        (
            "FROM chorus/busybox:latest\nRUN echo compiling && exit 3\n",
            "returned a non-zero code: 3",
        ),
    ],
    ids=["parse-error", "failing-run"],
)
def test_a_dockerfile_error_fails_the_build_with_the_engine_error(
    base_images, build_settings, repo, make_component, run_build, dockerfile, engine_line
):
    repo.commit({"Dockerfile": dockerfile})
    build = run_build(make_component(repo, "broken", preset="dockerfile"))

    lines = log_lines(build)
    assert build.status == Build.Status.FAILED
    assert any(engine_line in line for line in lines[:-1]), "the engine's own error line is kept"
    stderr = build.log_lines.filter(stream="stderr").values_list("text", flat=True)
    assert any(engine_line in line for line in stderr)
    assert lines[-1].startswith("Build failed: ") and engine_line in lines[-1]
    assert engine_line in build.error and build.finished_at


@pytest.mark.parametrize("host", ["tcp://127.0.0.1:9", "unix:///nonexistent/docker.sock"])
def test_engine_unreachable_fails_within_seconds(
    build_settings, repo, make_component, run_build, host
):
    build_settings.CHORUS_DOCKER_HOST = host
    repo.commit(sample_files("health-check"))
    component = make_component(repo, "health", preset="dockerfile")

    started = time.monotonic()
    build = run_build(component)
    elapsed = time.monotonic() - started

    assert elapsed < 10
    assert build.status == Build.Status.FAILED
    assert build.error.startswith(f"Docker engine not reachable at {host} (")
    assert log_lines(build)[-1] == f"Build failed: {build.error}"
    assert build.started_at and build.finished_at
    assert (build.finished_at - build.started_at).total_seconds() < 5


def test_missing_dockerfile_is_a_clear_failure(build_settings, repo, make_component, run_build):
    sha = repo.commit({"tasks/job/main.py": "print('hi')\n"})
    build = run_build(make_component(repo, "job", preset="dockerfile", path="tasks/job"))
    assert build.status == Build.Status.FAILED
    assert build.error == (
        f"No Dockerfile in “tasks/job” at commit {sha[:12]}. Add one, or switch the component "
        "to the Python preset."
    )
    assert log_lines(build)[-1] == f"Build failed: {build.error}"


def test_unreachable_repository_fails_the_build(build_settings, repo, make_component, run_build):
    from django.core.exceptions import ValidationError

    from deployments.builds.execute import build_execute
    from deployments.builds.services import build_queue

    repo.commit(sample_files("health-check"))
    component = make_component(repo, "health", preset="dockerfile")
    build = build_queue(component=component, actor=None)
    shutil.rmtree(repo.path)  # gone between queueing and the worker picking it up

    build_execute(build_id=build.pk)
    build.refresh_from_db()
    assert build.status == Build.Status.FAILED
    assert build.error.startswith("Cannot fetch")
    assert log_lines(build)[-1] == f"Build failed: {build.error}"

    # Queueing now fails at once, with the same kind of message, and queues nothing.
    with pytest.raises(ValidationError) as excinfo:
        build_queue(component=component, actor=None)
    assert "Cannot" in " ".join(excinfo.value.messages)
    assert component.builds.count() == 1


def test_build_timeout_stops_the_build(
    base_images, build_settings, repo, make_component, run_build
):
    build_settings.CHORUS_BUILD_TIMEOUT = 4
    repo.commit({"Dockerfile": "FROM chorus/busybox:latest\nRUN echo slow-step && sleep 120\n"})
    started = time.monotonic()
    build = run_build(make_component(repo, "slow", preset="dockerfile"))
    assert time.monotonic() - started < 30
    assert build.status == Build.Status.FAILED
    assert "took longer than 4 seconds" in build.error
    assert "slow-step" in log_lines(build)
    assert log_lines(build)[-1] == f"Build failed: {build.error}"


def test_built_in_sample_builds_with_docker(base_images, build_settings, project, alice, run_build):
    from components.models import Component

    component = Component.objects.create(
        project=project,
        name="cleanup",
        source_kind=Component.SourceKind.SAMPLE,
        sample_key="data-cleanup",
        preset=Component.Preset.PYTHON,
        created_by=alice,
    )
    build = run_build(component)
    assert build.status == Build.Status.SUCCEEDED, log_lines(build)[-5:]
    assert build.commit_sha.startswith("sample-")
    tag = f"chorus/payments/cleanup:{build.commit_sha[:12]}"
    assert docker_client().images.get(tag).id == build.image_ref == build.image_digest

    out = Collect()
    result = DockerRuntime().run(
        image=build.image_ref,
        env={"CHORUS_EXECUTION_ID": "7"},
        limits=Limits(),
        timeout=60,
        log=out,
    )
    assert "Starting data-cleanup (execution 7" in out.text()
    assert result.image_id == build.image_digest, "read back from the container"
    # No configuration: the sample cleans its own demo database and says so.
    assert result.exit_code == 0, out.lines
    assert "DATABASE_URL and CLEANUP_TABLE are not set" in out.text()
    assert "Deleted 4 rows from events in 1 batch" in out.text()


def test_unpullable_base_image_is_explained_with_the_two_ways_out(
    base_images, build_settings, project, alice, run_build
):
    from components.models import Component

    # A registry that cannot be resolved: the engine's pull fails like on an offline machine.
    missing = "registry.invalid/chorus/python:3-missing"
    build_settings.CHORUS_PYTHON_BASE_IMAGE = missing
    component = Component.objects.create(
        project=project,
        name="sessions",
        source_kind=Component.SourceKind.SAMPLE,
        sample_key="session-timeout-logger",
        preset=Component.Preset.PYTHON,
        created_by=alice,
    )

    build = run_build(component)

    assert build.status == Build.Status.FAILED
    assert build.error.startswith(
        f"The base image {missing} is not on this Docker engine and could not be pulled ("
    )
    assert "registry.invalid" in build.error.split("could not be pulled", 1)[1]  # engine's words
    assert "Set CHORUS_PYTHON_BASE_IMAGE to an image the engine has or can pull" in build.error
    assert "`python manage.py build_base_images`" in build.error
    assert log_lines(build)[-1] == f"Build failed: {build.error}"


def test_a_failing_step_on_a_present_base_image_keeps_the_engine_error(
    base_images, build_settings, repo, make_component, run_build
):
    repo.commit(
        {
            "Dockerfile": "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN exit 4\n",
        }
    )
    build = run_build(make_component(repo, "broken", preset="dockerfile"))

    assert build.status == Build.Status.FAILED
    assert "returned a non-zero code: 4" in build.error
    assert "CHORUS_PYTHON_BASE_IMAGE" not in build.error
