"""Two Chorus installations sharing one Docker engine: each reconciler touches only the
containers of its own installation (label `chorus.installation`), so neither stops the
other's tasks, even when their execution numbers coincide."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from deployments.executions.reconcile import reconcile
from deployments.executions.run import labels_for
from deployments.installation import LABEL, installation_id
from deployments.models import Execution

from .live import docker_client, task_image

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.timeout(120)]


@pytest.fixture
def containers():
    """start(labels) -> a running container (busybox sleeping); all removed at the end."""
    image = task_image("sleep 300")
    client = docker_client()
    started = []

    def start(labels: dict[str, str]):
        c = client.containers.run(image, detach=True, labels=labels)
        started.append(c)
        return c

    yield start
    for c in started:
        try:
            c.remove(force=True)
        except Exception:  # noqa: BLE001 - removed by the reconciler, as intended
            pass
    client.close()


def _state(container) -> str:
    try:
        container.reload()
    except Exception:  # noqa: BLE001 - docker.errors.NotFound: removed
        return "removed"
    return container.status


@pytest.fixture
def docker_dev(dev):
    dev.runtime_kind = "docker"
    dev.save()
    return dev


def test_a_reconcile_pass_removes_our_orphan_and_leaves_another_installation_s_task(
    containers, docker_dev
):
    other = "other-" + uuid.uuid4().hex[:8]
    base = {"chorus.managed": "true", "org.chorus.managed": "true", "chorus.execution": "999999991"}
    ours = containers({**base, LABEL: installation_id()})
    theirs = containers({**base, LABEL: other})
    # A container of an older Chorus, before installations were labelled: whose it is
    # cannot be known, so it is left alone too.
    unlabelled = containers(base)

    report = reconcile()

    assert ours.id in report.orphans_removed
    assert theirs.id not in report.orphans_removed
    assert (_state(ours), _state(theirs), _state(unlabelled)) == ("removed", "running", "running")


def test_a_lost_worker_s_execution_is_not_finished_from_another_installation_s_container(
    containers, deploy, tick, docker_dev
):
    d = deploy(environment=docker_dev)
    e = tick(d, seconds_ago=120)
    old = timezone.now() - timedelta(seconds=90)
    Execution.objects.filter(pk=e.pk).update(status="running", started_at=old, heartbeat_at=old)
    # The other installation runs its own execution with the very same number.
    labels = labels_for(e)
    assert labels[LABEL] == installation_id()
    theirs = containers({**labels, "org.chorus.managed": "true", LABEL: "other-installation"})

    report = reconcile()

    e.refresh_from_db()
    assert report.worker_lost == [e.pk]
    # No container of ours: "worker lost", not "the container was stopped".
    assert (e.status, e.reason) == ("failed", "worker lost")
    assert _state(theirs) == "running"
    assert theirs.id not in report.orphans_removed
