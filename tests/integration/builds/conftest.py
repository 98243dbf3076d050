"""Fixtures for builds against the real Docker engine and real git repositories."""

from __future__ import annotations

import pytest

from tests.support.builds import PYTHON_BASE, ensure_base_images, remove_images
from tests.support.gitrepos import BareRepo


@pytest.fixture(scope="session")
def base_images():
    """The offline bases exist on the engine (built once if missing). No engine: error."""
    ensure_base_images()


@pytest.fixture
def build_settings(settings, tmp_path):
    settings.CHORUS_PYTHON_BASE_IMAGE = PYTHON_BASE
    settings.CHORUS_BUILD_DIR = tmp_path / "builds"
    settings.CHORUS_LOCAL_IMAGES_DIR = tmp_path / "local-images"
    settings.CHORUS_DEFAULT_RUNTIME = "docker"
    settings.CHORUS_DOCKER_HOST = ""
    settings.CHORUS_BUILD_TIMEOUT = 300
    settings.CHORUS_MAX_CONCURRENT_BUILDS = 4
    return settings


@pytest.fixture
def repo(tmp_path) -> BareRepo:
    return BareRepo.create(tmp_path / "tasks.git")


@pytest.fixture
def make_component(project, alice):
    from components.models import Component

    def make(repo: BareRepo, name: str, *, preset: str, path: str = "", entry: str = ""):
        return Component.objects.create(
            project=project,
            name=name,
            source_kind=Component.SourceKind.GIT,
            git_url=repo.url,
            branch="main",
            path=path,
            preset=preset,
            entry_command=entry,
            created_by=alice,
        )

    return make


@pytest.fixture
def built_images():
    """Docker image refs made by a test, removed afterwards."""
    refs: list[str] = []
    yield refs
    remove_images(refs)


@pytest.fixture
def run_build(bob, django_capture_on_commit_callbacks, built_images):
    """Queue a build as bob (a developer) and execute it here, as the worker would."""
    from deployments.builds.execute import build_execute
    from deployments.builds.services import build_queue

    def run(component):
        with django_capture_on_commit_callbacks(execute=False):
            build = build_queue(component=component, actor=bob)
        build_execute(build_id=build.pk)
        build.refresh_from_db()
        if build.runtime_kind == "docker" and build.image_ref:
            built_images.append(build.image_ref)
        return build

    return run


def log_lines(build) -> list[str]:
    return list(build.log_lines.order_by("seq").values_list("text", flat=True))
