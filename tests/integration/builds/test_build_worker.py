"""A real Celery worker on the "builds" queue: builds run there, at most N at once."""

from __future__ import annotations

import time
import uuid

import pytest

from deployments.builds.services import build_queue
from deployments.models import Build
from tests.support.builds import PYTHON_BASE
from tests.support.processes import flush_broker, running, start_worker

from .conftest import log_lines

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_worker_builds_at_most_the_configured_number_at_once(
    base_images, build_settings, repo, make_component, bob, built_images
):
    token = uuid.uuid4().hex[:8]
    files = {}
    for name in ("first", "second"):
        files[f"{name}/Dockerfile"] = (
            f"FROM chorus/busybox:latest\nRUN echo {name}-{token} && sleep 3\n"
        )
    repo.commit(files)
    components = [make_component(repo, n, preset="dockerfile", path=n) for n in ("first", "second")]
    flush_broker()
    worker = lambda: start_worker(  # noqa: E731
        "builds-worker",
        concurrency=2,
        queues="builds",
        extra_env={
            "CHORUS_MAX_CONCURRENT_BUILDS": "1",
            "CHORUS_DEFAULT_RUNTIME": "docker",
            "CHORUS_PYTHON_BASE_IMAGE": PYTHON_BASE,
        },
    )
    with running(worker) as (proc,):
        builds = [build_queue(component=c, actor=bob) for c in components]
        deadline = time.monotonic() + 120
        while Build.objects.filter(pk__in=[b.pk for b in builds], status__in=Build.ACTIVE).exists():
            assert time.monotonic() < deadline, proc.output()[-3000:]
            time.sleep(0.5)

    for build in builds:
        build.refresh_from_db()
        built_images.append(build.image_ref)
        assert build.status == Build.Status.SUCCEEDED, log_lines(build)[-5:]
    first, second = sorted(builds, key=lambda b: b.started_at)
    # Two worker processes, one build slot: the second build started after the first ended.
    assert second.started_at >= first.finished_at
