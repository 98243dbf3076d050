"""Fixtures of the deploy browser tests: the local runtime and a real Celery worker."""

from __future__ import annotations

import pytest

from tests.support.processes import flush_broker, start_worker

WORKER_ENV = {"CHORUS_DEFAULT_RUNTIME": "local"}


@pytest.fixture
def local_runtime(settings):
    """Run builds and executions with the local runtime: fast, and independent of Docker."""
    from deployments.models import Environment

    settings.CHORUS_DEFAULT_RUNTIME = "local"
    Environment.objects.update(runtime_kind="local")


@pytest.fixture
def shared(tmp_path):
    """A host directory local tasks may read (the sandbox shows nothing else of the host)."""
    path = tmp_path / "shared"
    path.mkdir()
    return path


@pytest.fixture
def worker(local_runtime, shared):
    flush_broker()
    proc = start_worker(
        "deploy-e2e-worker",
        queues="chorus,builds,executions",
        extra_env={**WORKER_ENV, "CHORUS_LOCAL_SANDBOX_PATHS": str(shared)},
    )
    yield proc
    proc.stop()
