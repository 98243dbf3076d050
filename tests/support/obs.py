"""Factories for observability tests: components, deployments and executions as plain rows.

Executions are created directly (no containers): the read side only needs their rows.
"""

from __future__ import annotations

import datetime as dt
import itertools

from django.utils import timezone

from tests.support.factories import sample_component

_seq = itertools.count(1)


def make_component(project, name: str = "nightly-report"):
    return sample_component(project, name)


ENVIRONMENTS = {
    "dev": {"name": "Development", "order": 10, "is_production": False},
    "prod": {"name": "Production", "order": 20, "is_production": True},
}


def environment(slug: str):
    """The data migration's environment; recreated after a transactional test flushed it."""
    from deployments.models import Environment

    return Environment.objects.get_or_create(slug=slug, defaults=ENVIRONMENTS[slug])[0]


def make_deployment(component, env: str = "dev", schedule: str = "@every 2s", **extra):
    from deployments.models import Build, Deployment

    build = Build.objects.create(
        component=component,
        commit_sha=f"{next(_seq):040x}",
        status=Build.Status.SUCCEEDED,
        preset=component.preset,
        image_ref=f"chorus/{component.project.slug}/{component.name}:abc",
    )
    return Deployment.objects.create(
        component=component,
        environment=environment(env),
        build=build,
        schedule=schedule,
        **extra,
    )


def make_execution(
    deployment,
    status: str,
    *,
    scheduled_for: dt.datetime | None = None,
    attempt: int = 1,
    duration: float | None = 1.0,
    lag: float | None = 0.2,
    trigger: str = "schedule",
    exit_code: int | None = None,
    reason: str = "",
    logs: tuple = (),  # lines: text (stdout) or (stream, text), levelled as a run stores them
    parent=None,
):
    from deployments.models import Execution, ExecutionLogLine

    when = scheduled_for or timezone.now() - dt.timedelta(minutes=5)
    ran = status in ("succeeded", "partial", "failed", "timed_out", "cancelled", "running")
    started = when + dt.timedelta(seconds=lag or 0) if ran else None
    finished = (
        started + dt.timedelta(seconds=duration or 0) if ran and status != "running" else None
    )
    if exit_code is None and status in ("succeeded", "partial", "failed"):
        exit_code = 1 if status == "failed" else 0
    e = Execution.objects.create(
        deployment=deployment,
        scheduled_for=when,
        attempt=attempt,
        trigger=trigger,
        status=status,
        reason=reason,
        started_at=started,
        finished_at=finished,
        fire_lag_seconds=lag if ran else None,
        duration_seconds=duration if ran and status != "running" else None,
        exit_code=exit_code,
        build=deployment.build,
        parent=parent,
    )
    from deployments.loglevels import read_line

    for i, line in enumerate(logs):
        stream, text = line if isinstance(line, tuple) else ("stdout", line)
        level, text = read_line(stream, text)
        ExecutionLogLine.objects.create(
            execution=e, seq=i + 1, stream=stream, text=text, level=level
        )
    return e
