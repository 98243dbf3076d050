"""Fixtures for the registry tests: real builds on engine A (the suite's engine), engine B,
registries (the shared one from services.sh, or a private one a test may stop)."""

from __future__ import annotations

import pytest

from tests.integration.builds.conftest import (  # noqa: F401
    base_images,
    build_settings,
    built_images,
    make_component,
    repo,
    run_build,
)
from tests.support.registry import RegistryProcess, engine_b


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
