"""Images where their runs will be: check the registry on deploy, pull ahead on the engine.

With a registry (deployments/registry.py) a build's image is `<repo>@sha256:…`. A deploy,
promotion or rollback first asks the registry that the manifest is still there (a registry
that is down, refuses the credentials or lost the digest refuses the deploy, with the reason
recorded in the deploy log), then, once committed, sends `chorus.image.pull` to the
environment's own queue: the worker next to that environment's engine pulls the image by
digest, so a tick never waits for a pull. The outcome is recorded in the deploy log too. A
run whose image vanished from its engine pulls it again (runtimes/docker/run.py).
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import transaction

from deployments.environments import queue_for
from deployments.models import Build, Deployment, DeploymentEvent
from deployments.registry import RegistryError, is_registry_ref, registry_for_ref
from deployments.runtimes import runtime_for_build
from deployments.runtimes.base import ImagePullError, RuntimeUnavailable

logger = logging.getLogger(__name__)


def check_registry_image(*, build: Build) -> None:
    """Refuse a build whose registry image cannot be confirmed, saying why."""
    registry = registry_for_ref(build.image_ref)
    if registry is None:
        return
    try:
        registry.require(build.image_ref)
    except RegistryError as exc:
        raise ValidationError(f"Build #{build.pk} cannot be deployed now: {exc}") from exc


def pull_ahead_on_commit(deployment: Deployment) -> None:
    """After the commit, have the environment's worker pull the deployment's image."""
    if not is_registry_ref(deployment.build.image_ref):
        return
    deployment_id, queue = deployment.pk, queue_for(deployment.environment)

    def send() -> None:
        from deployments.deploy.tasks import image_pull_task

        try:
            image_pull_task.apply_async((deployment_id,), queue=queue)
        except Exception:  # noqa: BLE001 - the run pulls it then; the deploy stands
            logger.exception("deployment %s: could not ask for the image pull", deployment_id)

    transaction.on_commit(send)


def deployment_image_pull(*, deployment_id: int) -> DeploymentEvent | None:
    """Pull the deployment's image onto its environment's engine (nothing if it is there).

    Records a deploy-log entry when it pulled, or failed to; None when the image was there."""
    deployment = (
        Deployment.objects.select_related("build", "environment", "component")
        .filter(pk=deployment_id)
        .first()
    )
    if deployment is None or deployment.status == Deployment.Status.UNDEPLOYED:
        return None
    build, environment = deployment.build, deployment.environment
    ref = build.image_ref
    if not is_registry_ref(ref):
        return None
    runtime = runtime_for_build(build, environment)
    registry = registry_for_ref(ref)
    where = getattr(runtime, "where", runtime.kind)
    try:
        pulled = runtime.ensure_image(ref, auth=registry.auth_config() if registry else None)
    except (ImagePullError, RuntimeUnavailable, RegistryError) as exc:
        outcome, message = DeploymentEvent.Outcome.FAILED, f"Image not pulled ahead: {exc}"
        if registry is not None:
            try:
                registry.require(ref)
            except RegistryError as gone:
                message = f"Image not pulled ahead: {gone}"
    else:
        if not pulled:
            return None
        outcome = DeploymentEvent.Outcome.OK
        message = f"Pulled {ref} onto {where} ahead of its runs"
    from deployments.deploy.services.events import record_event

    return record_event(
        kind=DeploymentEvent.Kind.PULL,
        component=deployment.component,
        environment=environment,
        deployment=deployment,
        build=build,
        outcome=outcome,
        message=message,
    )
