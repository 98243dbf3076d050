"""Helpers for executions tests with real processes: committed data outside the test
transaction, task images, and snapshots of what the processes did.

A scenario runs once per module (processes take seconds to start, cron ticks a minute to come):
a module-scoped fixture creates its data with committed transactions, runs beat and workers,
takes a snapshot (plain Python values), stops the processes and deletes exactly what it
created; each test then asserts one thing about the snapshot.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

BUSYBOX = "chorus/busybox:latest"

# Processes of these tests: many threads for the executions queue, like the Procfile; a short
# reconcile period and stale-heartbeat limit so worker loss is handled within seconds.
PROCESS_ENV = {
    "CHORUS_DB_POOL_SIZE": "6",
    "CHORUS_RECONCILE_INTERVAL": "3",
    "CHORUS_EXECUTION_STALE_SECONDS": "8",
    "CHORUS_EXECUTION_HEARTBEAT_SECONDS": "1",
}


def docker_client():
    from deployments.runtimes.docker.runtime import DockerRuntime

    return DockerRuntime().client(timeout=300)


def task_image(script: str) -> str:
    """An image FROM the offline busybox base whose command is `sh -c <script>`."""
    from deployments.builds.baseimages.busybox import ensure_busybox_image

    client = docker_client()
    try:
        ensure_busybox_image(client, tag=BUSYBOX, log=lambda line: None)
        tag = f"chorus/test-task:{hashlib.sha256(script.encode()).hexdigest()[:12]}"
        dockerfile = f"FROM {BUSYBOX}\nCMD {json.dumps(['sh', '-c', script])}\n"
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            data = dockerfile.encode()
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        buf.seek(0)
        client.images.build(fileobj=buf, custom_context=True, tag=tag, rm=True, pull=False)
        return tag
    finally:
        client.close()


def containers_of(execution_id: int) -> list[str]:
    client = docker_client()
    try:
        return [
            c["Id"]
            for c in client.api.containers(
                all=True, filters={"label": [f"chorus.execution={execution_id}"]}
            )
        ]
    finally:
        client.close()


@dataclass
class Created:
    """Rows a scenario created (deleted again at its end, children first)."""

    users: list = field(default_factory=list)
    projects: list = field(default_factory=list)
    environments: list = field(default_factory=list)

    def delete(self) -> None:
        from django_celery_beat.models import PeriodicTask

        from components.models import Component
        from deployments.models import Build, Deployment, DeploymentEvent, Environment

        for project in self.projects:
            deployments = Deployment.objects.filter(component__project=project)
            PeriodicTask.objects.filter(
                pk__in=deployments.values_list("periodic_task_id", flat=True)
            ).delete()
            DeploymentEvent.objects.filter(component__project=project).delete()
            deployments.delete()
            Build.objects.filter(component__project=project).delete()
            Component.objects.filter(project=project).delete()
            project.delete()
        Environment.objects.filter(pk__in=[e.pk for e in self.environments]).delete()
        for user in self.users:
            user.delete()


def wait_until(check: Callable[[], object], timeout: float, step: float = 0.5, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        from django.db import connection

        connection.close()  # see other processes' commits with a fresh connection
        value = check()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")


def snapshot(deployment) -> list[dict]:
    """Every execution of the deployment with its log, as plain values, oldest tick first."""
    from deployments.models import Execution

    rows = []
    for e in Execution.objects.filter(deployment_id=deployment.pk).order_by(
        "scheduled_for", "attempt"
    ):
        rows.append(
            {
                "pk": e.pk,
                "scheduled_for": e.scheduled_for,
                "attempt": e.attempt,
                "trigger": e.trigger,
                "status": e.status,
                "reason": e.reason,
                "exit_code": e.exit_code,
                "result": e.result,
                "due_at": e.due_at,
                "started_at": e.started_at,
                "finished_at": e.finished_at,
                "fire_lag": e.fire_lag_seconds,
                "container_id": e.container_id,
                "parent_id": e.parent_id,
                "log": [(line.stream, line.text) for line in e.log_lines.order_by("seq")],
            }
        )
    return rows
