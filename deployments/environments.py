"""Environments, shared by builds, deploy, executions and observability: reads, and where an
environment's runs go — its engine and its queue (operators set them; docs/scaling.md)."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404

from deployments.models import Environment

DEFAULT_EXECUTIONS_QUEUE = "executions"
QUEUE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
DOCKER_HOST_RE = re.compile(r"^(unix|tcp|ssh|npipe)://\S+$")


def environment_get(*, slug: str) -> Environment:
    """The environment named `slug` (404 with its name otherwise); environments are global."""
    try:
        return Environment.objects.get(slug=slug)
    except Environment.DoesNotExist:
        raise Http404(f"No environment “{slug}”.") from None


def promotion_source(*, environment: Environment) -> Environment | None:
    """The environment right before `environment` on the promotion path (None for the first)."""
    return Environment.objects.filter(order__lt=environment.order).order_by("-order").first()


def queue_for(environment: Environment | None) -> str:
    """The Celery queue an environment's runs (and its image pulls) go to."""
    return (getattr(environment, "queue", "") or "").strip() or DEFAULT_EXECUTIONS_QUEUE


@transaction.atomic
def environment_set_hosting(
    *,
    environment: Environment,
    docker_host: str | None = None,
    docker_network: str | None = None,
    queue: str | None = None,
) -> Environment:
    """Set the engine (`docker_host`, "" for DOCKER_HOST), its task network ("" for
    CHORUS_DOCKER_NETWORK) and the Celery queue ("" for the shared "executions") of an
    environment's runs. Runs already queued keep their queue. None leaves a field as it is."""
    errors: dict[str, list[str]] = {}
    if docker_host is not None:
        docker_host = docker_host.strip()
        if docker_host and not DOCKER_HOST_RE.match(docker_host):
            errors["docker_host"] = [
                "A Docker host is unix:///path.sock, tcp://host:port or ssh://user@host."
            ]
        environment.docker_host = docker_host
    if docker_network is not None:
        docker_network = docker_network.strip()
        if docker_network and not QUEUE_RE.match(docker_network):
            errors["docker_network"] = [
                "A Docker network name is letters, digits, '.', '_' or '-'."
            ]
        environment.docker_network = docker_network
    if queue is not None:
        queue = queue.strip()
        if queue and not QUEUE_RE.match(queue):
            errors["queue"] = [
                "A queue name is letters, digits, '.', '_' or '-' (e.g. executions.prod)."
            ]
        environment.queue = queue
    if errors:
        raise ValidationError(errors)
    environment.save()  # save(): the runtimes' environment cache follows (post_save)
    return environment
