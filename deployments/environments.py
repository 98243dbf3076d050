"""Environments, shared by builds, deploy, executions and observability: reads, and where an
environment's runs go (its queue)."""

from __future__ import annotations

from django.http import Http404

from deployments.models import Environment


def environment_get(*, slug: str) -> Environment:
    """The environment named `slug` (404 with its name otherwise); environments are global."""
    try:
        return Environment.objects.get(slug=slug)
    except Environment.DoesNotExist:
        raise Http404(f"No environment “{slug}”.") from None


def promotion_source(*, environment: Environment) -> Environment | None:
    """The environment right before `environment` on the promotion path (None for the first)."""
    return Environment.objects.filter(order__lt=environment.order).order_by("-order").first()


DEFAULT_EXECUTIONS_QUEUE = "executions"


def queue_for(environment: Environment | None) -> str:
    """The Celery queue an environment's runs (and its image pulls) go to."""
    return (getattr(environment, "queue", "") or "").strip() or DEFAULT_EXECUTIONS_QUEUE
