"""Reads of builds and their logs for views and APIs, permission-checked via the component."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from components.models import Component
from components.selectors import component_get_for_user
from deployments.models import Build, BuildLogLine
from portal.roles import Role

# One poll of the live log returns at most this many lines; the next poll continues.
LOG_PAGE_LINES = 2000


def builds_for_component(*, component: Component) -> QuerySet[Build]:
    return (
        Build.objects.filter(component=component)
        .select_related("component__project", "triggered_by")
        .order_by("-queued_at", "-id")
    )


def build_get_for_user(
    *, user, project_slug: str, name: str, build_id: int, min_role: Role | str = Role.VIEWER
) -> Build:
    """The build if the user may see its component (404 for outsiders, 403 below min_role)."""
    component = component_get_for_user(
        user=user, project_slug=project_slug, name=name, min_role=min_role
    )
    try:
        return builds_for_component(component=component).get(pk=build_id)
    except Build.DoesNotExist:
        raise Http404("No such build") from None


def build_log_lines(
    *, build: Build, after: int = 0, limit: int = LOG_PAGE_LINES
) -> list[BuildLogLine]:
    """Log lines with seq > after, oldest first."""
    return list(BuildLogLine.objects.filter(build=build, seq__gt=after).order_by("seq")[:limit])
