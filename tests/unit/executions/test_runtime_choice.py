"""A run uses the runtime that built its image: never a silent fallback to another one."""

from __future__ import annotations

import pytest

from .conftest import log_text

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("env_kind", ["auto", "docker"])
def test_a_docker_image_whose_engine_is_down_fails_with_the_engines_reason(
    settings, dev, deploy, make_build, tick, run, env_kind
):
    settings.CHORUS_DEFAULT_RUNTIME = "auto"
    settings.CHORUS_DOCKER_HOST = "unix:///nonexistent/docker.sock"
    dev.runtime_kind = env_kind
    dev.save()
    deployment = deploy(build=make_build(runtime_kind="docker"))

    execution = run(tick(deployment))

    assert execution.status == "failed"
    assert execution.reason.startswith(
        "Docker engine not reachable at unix:///nonexistent/docker.sock"
    ), execution.reason
    assert "docker runtime" in log_text(execution)
    assert "local" not in log_text(execution)
