"""The deploy log: events for every change, and failed attempts recorded after rollback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from components.models import Component
from deployments.models import Build, Deployment, DeploymentEvent, Environment


def record_event(
    *,
    kind: str,
    component: Component,
    environment: Environment | None,
    deployment: Deployment | None = None,
    build: Build | None = None,
    actor=None,
    message: str = "",
    outcome: str = DeploymentEvent.Outcome.OK,
    schedule: str = "",
    timezone: str = "",
) -> DeploymentEvent:
    return DeploymentEvent.objects.create(
        component=component,
        environment=environment,
        deployment=deployment,
        build=build,
        kind=kind,
        outcome=outcome,
        schedule=(schedule or "")[:100],
        timezone=(timezone or "")[:64],
        message=message,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
    )


def error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or "Permission denied."


def recorded(
    fn: Callable[[], Any],
    *,
    kind: str,
    component: Component,
    environment: Environment | None,
    deployment: Deployment | None = None,
    build: Build | None = None,
    actor=None,
    schedule: str = "",
    timezone: str = "",
    what: str = "",
):
    """Run `fn` in its own transaction; on a refusal, log a failed event and re-raise."""
    try:
        with transaction.atomic():
            return fn()
    except (ValidationError, PermissionDenied) as exc:
        if deployment is not None and deployment.pk is not None:
            # The rolled-back transaction may have changed the instance in memory.
            deployment = Deployment.objects.filter(pk=deployment.pk).first()
        record_event(
            kind=kind,
            component=component,
            environment=environment,
            deployment=deployment,
            build=build if build is not None and build.pk else None,
            actor=actor,
            outcome=DeploymentEvent.Outcome.FAILED,
            schedule=schedule if isinstance(schedule, str) else "",
            timezone=timezone if isinstance(timezone, str) else "",
            message=f"{what}: {error_text(exc)}" if what else error_text(exc),
        )
        raise
