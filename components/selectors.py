"""Reads of components, permission-checked through the project membership."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from portal.models import Project
from portal.roles import Role
from portal.selectors import project_get_for_user, require_role

from .models import Component


def component_get_for_user(
    *, user, project_slug: str, name: str, min_role: Role | str = Role.VIEWER
) -> Component:
    """The component if the user's role in its project is at least `min_role`.

    404 for outsiders and for unknown components; 403 for members below the role.
    """
    project = project_get_for_user(user=user, slug=project_slug)
    try:
        component = Component.objects.select_related("project").get(project=project, name=name)
    except Component.DoesNotExist:
        raise Http404("No such component") from None
    require_role(user=user, project=project, min_role=min_role)
    return component


def component_list(*, project: Project) -> QuerySet[Component]:
    return Component.objects.filter(project=project).order_by("name")
