"""Reads of approval requests, membership checked (404 for outsiders)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from deployments.approvals.models import ApprovalRequest
from portal.models import Project
from portal.roles import Role
from portal.selectors import project_get_for_user

STATUS_FILTERS = ("pending", "approved", "rejected", "withdrawn", "all")


def _requests() -> QuerySet[ApprovalRequest]:
    return ApprovalRequest.objects.select_related(
        "component__project",
        "environment",
        "source_environment",
        "build",
        "requested_by",
        "decided_by",
    )


def approvals_for_project(
    *, project: Project, status: str = "all", component=None
) -> QuerySet[ApprovalRequest]:
    qs = _requests().filter(component__project=project)
    if status and status != "all":
        qs = qs.filter(status=status)
    if component is not None:
        qs = qs.filter(component=component)
    return qs


def approval_get_for_user(*, user, project_slug: str, pk: int) -> ApprovalRequest:
    """The request if the user is a member of its project (any role); 404 otherwise."""
    project = project_get_for_user(user=user, slug=project_slug, min_role=Role.VIEWER)
    a = _requests().filter(component__project=project, pk=pk).first()
    if a is None:
        raise Http404("No such request")
    return a


def recent_for_component(*, component, limit: int = 10) -> list[ApprovalRequest]:
    """Pending requests first, then the latest decided ones (the Deploy page's list)."""
    pending = list(approvals_for_project(project=component.project, component=component,
                                         status="pending"))  # fmt: skip
    decided = list(
        approvals_for_project(project=component.project, component=component).exclude(
            status=ApprovalRequest.Status.PENDING
        )[: max(0, limit - len(pending))]
    )
    return pending + decided


def pending_count(*, project: Project) -> int:
    return ApprovalRequest.objects.filter(
        component__project=project, status=ApprovalRequest.Status.PENDING
    ).count()
