"""Which runtime builds and runs: per environment, with "auto" falling back to local."""

from __future__ import annotations

import time

import pytest

from deployments.models import Environment
from deployments.runtimes import get_runtime
from deployments.runtimes.base import RuntimeUnavailable
from deployments.runtimes.docker.runtime import DockerRuntime
from deployments.runtimes.local.runtime import LocalRuntime

pytestmark = pytest.mark.django_db


def test_environment_kind_wins(settings):
    settings.CHORUS_DEFAULT_RUNTIME = "docker"
    dev = Environment.objects.get(slug="dev")
    dev.runtime_kind = "local"
    assert isinstance(get_runtime(dev), LocalRuntime)
    dev.runtime_kind = "docker"
    dev.docker_host = "tcp://127.0.0.1:9"
    dev.docker_network = "chorus-tasks"
    runtime = get_runtime(dev)
    assert isinstance(runtime, DockerRuntime)
    assert runtime.where == "tcp://127.0.0.1:9" and runtime.network == "chorus-tasks"


def test_auto_falls_back_to_local_quickly_when_docker_does_not_answer(settings):
    settings.CHORUS_DEFAULT_RUNTIME = "auto"
    settings.CHORUS_DOCKER_HOST = "unix:///nonexistent/docker.sock"
    started = time.monotonic()
    assert isinstance(get_runtime(Environment.objects.get(slug="dev")), LocalRuntime)
    assert time.monotonic() - started < 3


def test_unknown_kind_is_a_clear_error(settings):
    settings.CHORUS_DEFAULT_RUNTIME = "kubernetes"
    with pytest.raises(RuntimeUnavailable, match="Unknown runtime “kubernetes”"):
        get_runtime(None)


def test_an_image_runs_on_the_runtime_that_built_it(settings):
    from types import SimpleNamespace

    from deployments.runtimes import runtime_for_build

    settings.CHORUS_DEFAULT_RUNTIME = "docker"
    dev = Environment.objects.get(slug="dev")
    assert isinstance(runtime_for_build(SimpleNamespace(runtime_kind="local"), dev), LocalRuntime)
    dev.runtime_kind = "local"
    assert isinstance(runtime_for_build(SimpleNamespace(runtime_kind="docker"), dev), DockerRuntime)
