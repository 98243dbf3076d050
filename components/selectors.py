"""Reads of components, permission-checked through the project membership."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404

from portal import crypto
from portal.models import Project
from portal.roles import Role
from portal.selectors import project_get_for_user, require_role

from .models import Component, GitHubConnection


def component_get_for_user(
    *, user, project_slug: str, name: str, min_role: Role | str = Role.VIEWER
) -> Component:
    """The component if the user's role in its project is at least `min_role`.

    404 for outsiders and for unknown components; 403 for members below the role.
    """
    project = project_get_for_user(user=user, slug=project_slug)
    try:
        component = Component.objects.get(project=project, name=name)
    except Component.DoesNotExist:
        raise Http404("No such component") from None
    component.project = project  # the one that knows the user's role (portal.selectors)
    require_role(user=user, project=project, min_role=min_role)
    return component


def component_list(*, project: Project) -> QuerySet[Component]:
    return Component.objects.filter(project=project).order_by("name")


@dataclass(frozen=True)
class ComponentRow:
    """A component with its latest build and its deployment (or None) per environment."""

    component: Component
    latest_build: object | None
    deployments: list[tuple[object, object | None]]


def component_rows(*, project: Project, components=None) -> tuple[list, list[ComponentRow]]:
    """(environments, rows) for the component list: three queries whatever the count."""
    from deployments.models import Build, Deployment, Environment

    environments = list(Environment.objects.order_by("order"))
    if components is None:
        components = component_list(project=project)
    latest = Build.objects.filter(component=OuterRef("pk")).order_by("-queued_at", "-id")
    comps = list(components.annotate(latest_build_id=Subquery(latest.values("id")[:1])))
    builds = Build.objects.in_bulk([c.latest_build_id for c in comps if c.latest_build_id])
    by_pair = {
        (d.component_id, d.environment_id): d
        for d in Deployment.objects.filter(component__in=comps).select_related("build")
    }
    rows = [
        ComponentRow(
            component=c,
            latest_build=builds.get(c.latest_build_id),
            deployments=[(env, by_pair.get((c.pk, env.pk))) for env in environments],
        )
        for c in comps
    ]
    return environments, rows


def component_webhook_secret(*, component: Component, user) -> str:
    """The plaintext webhook secret, for developers and owners only (403 below)."""
    require_role(user=user, project=component.project, min_role=Role.DEVELOPER)
    try:
        return crypto.decrypt(component.webhook_secret_encrypted)
    except crypto.DecryptionError:
        return ""


def github_connections(*, project: Project) -> QuerySet[GitHubConnection]:
    return GitHubConnection.objects.filter(project=project).order_by("login", "base_url")


def github_connection_get(*, project: Project, pk) -> GitHubConnection:
    try:
        return GitHubConnection.objects.select_related("project").get(project=project, pk=pk)
    except (GitHubConnection.DoesNotExist, ValueError, TypeError):
        raise Http404("No such GitHub connection") from None


def component_environments_in_use(*, component: Component) -> list:
    """Environments where the component has a deployment (live or undeployed) or a config value:
    deleting the component removes those, so deleting needs the role that may change each."""
    from deployments.models import ConfigVar, Deployment, Environment

    ids = set(Deployment.objects.filter(component=component).values_list("environment", flat=True))
    ids |= set(ConfigVar.objects.filter(component=component).values_list("environment", flat=True))
    return list(Environment.objects.filter(pk__in=ids).order_by("order"))
