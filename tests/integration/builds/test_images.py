"""Image clean-up against the real Docker engine: old images leave `docker images`, the
deployed one and the base stay, an image a container uses is kept, a dead engine is survived."""

from __future__ import annotations

import io
import subprocess
import uuid
from datetime import timedelta

import docker.errors
import pytest
from django.utils import timezone

from deployments.builds.baseimages.busybox import ensure_busybox_image
from deployments.builds.images import images_prune
from deployments.models import Build, Deployment, Environment
from tests.support.builds import BUSYBOX_BASE, docker_client, remove_images
from tests.support.factories import sample_component

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.CHORUS_IMAGE_KEEP_BUILDS = 0
    settings.CHORUS_IMAGE_KEEP_DAYS = 7


@pytest.fixture
def client():
    client = docker_client()
    ensure_busybox_image(client, tag=BUSYBOX_BASE, log=lambda line: None)
    yield client
    client.close()


@pytest.fixture
def component(project, alice):
    return sample_component(project, f"gc-{uuid.uuid4().hex[:8]}", created_by=alice)


@pytest.fixture
def tagged(client, component):
    """Tag (or build) a throwaway image as a succeeded docker build of `component`."""
    refs: list[str] = []

    def make(*, days_ago: float = 30, unique: bool = False) -> Build:
        sha = uuid.uuid4().hex + uuid.uuid4().hex[:8]
        repo = f"chorus/{component.project.slug}/{component.name}"
        ref = f"{repo}:{sha[:12]}"
        if unique:
            # An image of its own (not just another tag of the base), as a real build makes.
            dockerfile = f"FROM {BUSYBOX_BASE}\nLABEL org.chorus.test={sha}\n"
            client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=ref, rm=True)
        else:
            client.images.get(BUSYBOX_BASE).tag(repo, tag=sha[:12])
        refs.append(ref)
        finished = timezone.now() - timedelta(days=days_ago)
        return Build.objects.create(
            component=component,
            commit_sha=sha,
            status=Build.Status.SUCCEEDED,
            preset="python",
            runtime_kind="docker",
            image_ref=ref,
            image_digest=client.images.get(ref).id,
            queued_at=finished,
            finished_at=finished,
        )

    yield make
    remove_images(refs)


def docker_images() -> set[str]:
    out = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    return set(out.split())


def test_the_old_image_leaves_docker_images_and_the_deployed_one_stays(tagged, component):
    old = tagged(days_ago=30)
    deployed = tagged(days_ago=31)
    Deployment.objects.create(
        component=component,
        environment=Environment.objects.get(slug="prod"),
        build=deployed,
        schedule="@daily",
    )
    assert {old.image_ref, deployed.image_ref} <= docker_images()

    summary = images_prune()

    images = docker_images()
    assert old.image_ref not in images
    assert deployed.image_ref in images
    assert BUSYBOX_BASE in images  # only the build's tag goes, never the base it came from
    assert [o.ref for o in summary.removed] == [old.image_ref]
    old.refresh_from_db(), deployed.refresh_from_db()
    assert old.image_removed_at is not None and deployed.image_removed_at is None


def test_an_image_a_container_uses_is_kept_until_the_container_is_gone(client, tagged):
    build = tagged(days_ago=30, unique=True)
    container = client.containers.create(build.image_ref, command=["true"])
    try:
        summary = images_prune()

        assert build.image_ref in docker_images()
        build.refresh_from_db()
        assert build.image_removed_at is None
        assert [o.ref for o in summary.left] == [build.image_ref]
        assert "is using its referenced image" in summary.left[0].reason
    finally:
        container.remove(force=True)

    images_prune()
    assert build.image_ref not in docker_images()
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(build.image_ref)


def test_an_engine_that_is_down_does_not_crash_the_prune(settings, tagged):
    build = tagged(days_ago=30)
    settings.CHORUS_DOCKER_HOST = "tcp://127.0.0.1:9"  # nothing listens there

    summary = images_prune()

    build.refresh_from_db()
    assert build.image_removed_at is None
    assert build.image_ref in docker_images()
    assert "not reachable at tcp://127.0.0.1:9" in summary.left[0].reason
    assert "1 left for next time" in summary.lines()[-1]
