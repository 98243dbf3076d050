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


# project_get_for_user reads the project and the user's membership in one query and remembers
# the role on the project it returns, so the view's own project_role() for that user (the role
# badge, which buttons to draw) costs no second query. The services that change memberships
# forget it (forget_role); a Project loaded any other way has none.
_ROLE_MEMO = "_member_role"


def forget_role(project: Project) -> None:
    project.__dict__.pop(_ROLE_MEMO, None)


def project_role(*, user, project: Project) -> Role | None:
    memo = project.__dict__.get(_ROLE_MEMO)
    if memo is not None and memo[0] == user.pk and user.is_authenticated:
        return memo[1]
    m = membership_for(user=user, project=project)
    return Role(m.role) if m else None


def project_get_for_user(*, user, slug: str, min_role: Role | str = Role.VIEWER) -> Project:
    """The project if the user is a member with at least `min_role`.

    Outsiders get 404 (a project's existence is not revealed); members below the role get 403.
    """
    membership = None
    if user.is_authenticated:
        membership = (
            Membership.objects.select_related("project")
            .filter(project__slug=slug, user_id=user.pk)
            .order_by()
            .first()
        )
    if membership is None:
        raise Http404("No such project")
    project = membership.project
    role = Role(membership.role)
    project.__dict__[_ROLE_MEMO] = (user.pk, role)
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
