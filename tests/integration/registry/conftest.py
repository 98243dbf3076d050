"""Fixtures for the registry tests: real builds on engine A (the suite's engine), engine B,
registries (the shared one from services.sh, or a private one a test may stop)."""

from __future__ import annotations

import pytest

from deployments.builds.baseimages.busybox import ensure_busybox_image
from tests.integration.builds.conftest import (  # noqa: F401
    base_images,
    build_settings,
    built_images,
    make_component,
    repo,
    run_build,
)
from tests.support.builds import BUSYBOX_BASE
from tests.support.registry import (
    DOCKER_B,
    DOCKER_B_NETWORK,
    RegistryProcess,
    engine_b,
    remove_image,
)


@pytest.fixture
def docker_b():
    client = engine_b()
    yield client
    client.close()


@pytest.fixture
def private_registry(tmp_path):
    registry = RegistryProcess(tmp_path / "registry").start()
    yield registry
    registry.stop()


def docker_env(slug: str, **fields):
    """The environment `slug` running on Docker with these fields, saved through save() so
    the runtimes' environment cache follows."""
    from deployments.models import Environment

    env = Environment.objects.get(slug=slug)
    env.runtime_kind = "docker"
    for key, value in fields.items():
        setattr(env, key, value)
    env.save()
    return env


@pytest.fixture
def on_b(docker_b, build_settings):  # noqa: F811 - the imported fixture
    """Development builds and runs on engine B; images made are removed afterwards."""
    ensure_busybox_image(docker_b, tag=BUSYBOX_BASE, log=lambda line: None)
    env = docker_env("dev", docker_host=DOCKER_B, docker_network=DOCKER_B_NETWORK)
    made: list[str] = []
    yield env, made
    for ref in made:
        remove_image(docker_b, ref)


@pytest.fixture
def registry(private_registry, build_settings):  # noqa: F811 - the imported fixture
    build_settings.CHORUS_REGISTRY = f"{private_registry.host}/chorus"
    return private_registry
