"""Reads of environments, shared by builds, deploy, executions and observability."""

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
