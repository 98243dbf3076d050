"""Reads that enforce project membership. Every view and API goes through these."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from .models import Membership, Project
from .roles import Role


def projects_for_user(*, user) -> QuerySet[Project]:
    if not user.is_authenticated:
        return Project.objects.none()
    return Project.objects.filter(memberships__user=user).distinct()


def membership_for(*, user, project: Project) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, project=project).first()


def project_role(*, user, project: Project) -> Role | None:
    m = membership_for(user=user, project=project)
    return Role(m.role) if m else None


def project_get_for_user(*, user, slug: str, min_role: Role | str = Role.VIEWER) -> Project:
    """The project if the user is a member with at least `min_role`.

    Outsiders get 404 (a project's existence is not revealed); members below the role get 403.
    """
    try:
        project = Project.objects.get(slug=slug)
    except Project.DoesNotExist:
        raise Http404("No such project") from None
    role = project_role(user=user, project=project)
    if role is None:
        raise Http404("No such project")
    if not role.at_least(min_role):
        raise PermissionDenied(
            f"This needs the {Role(min_role).label.lower()} role in {project.name}; "
            f"you are a {role.label.lower()}."
        )
    return project


def require_role(*, user, project: Project, min_role: Role | str) -> Role:
    """Raise 404 for outsiders and 403 for members below `min_role`; return the user's role."""
    role = project_role(user=user, project=project)
    if role is None:
        raise Http404("No such project")
    if not role.at_least(min_role):
        raise PermissionDenied(
            f"This needs the {Role(min_role).label.lower()} role in {project.name}; "
            f"you are a {role.label.lower()}."
        )
    return role


def project_members(*, project: Project) -> QuerySet[Membership]:
    return project.memberships.select_related("user").order_by("user__username")
