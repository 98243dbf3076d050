"""Cancelling a build while the engine runs it: the build stops within seconds."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.db import connection

from deployments.builds.execute import build_execute
from deployments.builds.services import build_cancel, build_queue
from deployments.models import Build
from tests.support.builds import docker_client

from .conftest import log_lines

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MARK = "chorus-cancel-test-step"


def test_cancel_a_running_build(base_images, build_settings, repo, make_component, bob):
    # A fresh token per run, so the engine's layer cache never skips the slow step.
    token = uuid.uuid4().hex[:8]
    repo.commit(
        {"Dockerfile": f"FROM chorus/busybox:latest\nRUN echo {MARK} {token} && sleep 120\n"}
    )
    component = make_component(repo, "slow", preset="dockerfile")
    build = build_queue(component=component, actor=bob)

    def work():
        try:
            build_execute(build_id=build.pk)
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    try:
        # The step's output shows up while the step still runs (it sleeps after echoing).
        deadline = time.monotonic() + 60
        while f"{MARK} {token}" not in log_lines(build):
            assert time.monotonic() < deadline, "\n".join(log_lines(build))
            time.sleep(0.2)
        build.refresh_from_db()
        assert build.status == Build.Status.RUNNING

        asked = time.monotonic()
        build_cancel(build=build, actor=bob)
        worker.join(timeout=30)
    finally:
        Build.objects.filter(pk=build.pk).update(cancel_requested=True)
        worker.join(timeout=30)
    assert not worker.is_alive()
    assert time.monotonic() - asked < 10

    build.refresh_from_db()
    assert build.status == Build.Status.CANCELLED
    assert build.error == "Cancelled by bob."
    assert log_lines(build)[-1] == "Build cancelled: Cancelled by bob."
    # The engine stopped the step's container too.
    time.sleep(1)
    client = docker_client()
    leftovers = [
        c
        for c in client.containers.list(all=True)
        if MARK in " ".join(c.attrs.get("Config", {}).get("Cmd") or [])
    ]
    client.close()
    assert leftovers == []
