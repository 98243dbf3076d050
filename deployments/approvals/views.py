"""Approval requests in the browser: the project's list, one request (its diff, comment,
staleness and outcome), approve, reject (a confirmation with the reason), withdraw, refresh.

Members read; owners approve and reject; the requester withdraws; the requester or an owner
refreshes. The services check again. When htmx asks for the reject form it gets just that
fragment, which the full confirmation page includes too.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from deployments.approvals.basis import staleness
from deployments.approvals.models import ApprovalRequest
from deployments.approvals.selectors import (
    STATUS_FILTERS,
    approval_get_for_user,
    approvals_for_project,
)
from deployments.approvals.services import (
    approval_request_approve,
    approval_request_refresh,
    approval_request_reject,
    approval_request_withdraw,
)
from portal.roles import Role
from portal.selectors import project_get_for_user, project_role

PAGE = 100


def _detail_url(a: ApprovalRequest) -> str:
    return reverse("approval_detail", args=[a.component.project.slug, a.pk])


def _text(exc: Exception) -> str:
    return " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)


@login_required
@require_GET
def approvals_view(request, project_slug: str):
    project = project_get_for_user(user=request.user, slug=project_slug)
    status = request.GET.get("status") or "all"
    if status not in STATUS_FILTERS:
        status = "all"
    requests = list(approvals_for_project(project=project, status=status)[:PAGE])
    for a in requests:
        a.stale_reason = staleness(a) if a.is_pending else ""
    return render(
        request,
        "deployments/approvals/list.html",
        {
            "project": project,
            "role": project_role(user=request.user, project=project),
            "requests": requests,
            "status": status,
            "statuses": STATUS_FILTERS,
        },
    )


def _detail_context(request, a: ApprovalRequest, **extra) -> dict:
    role = project_role(user=request.user, project=a.component.project)
    return {
        "project": a.component.project,
        "component": a.component,
        "a": a,
        "role": role,
        "is_owner": role == Role.OWNER,
        "is_requester": a.requested_by_id == request.user.pk,
        "stale_reason": staleness(a) if a.is_pending else "",
        **extra,
    }


@login_required
@require_GET
def approval_detail_view(request, project_slug: str, approval_id: int):
    a = approval_get_for_user(user=request.user, project_slug=project_slug, pk=approval_id)
    return render(request, "deployments/approvals/detail.html", _detail_context(request, a))


def _act(request, project_slug: str, approval_id: int, service, done: str, **kwargs):
    a = approval_get_for_user(user=request.user, project_slug=project_slug, pk=approval_id)
    try:
        service(approval=a, actor=request.user, **kwargs)
    except ValidationError as exc:
        # A refusal by role (PermissionDenied) is a 403 page with its sentence instead.
        messages.error(request, _text(exc))
    else:
        messages.success(request, done.format(id=a.pk, env=a.environment.name))
    return redirect(_detail_url(a))


@login_required
@require_POST
def approval_approve_view(request, project_slug: str, approval_id: int):
    project_get_for_user(user=request.user, slug=project_slug, min_role=Role.OWNER)
    try:
        revision = int(request.POST.get("revision") or 0) or None
    except ValueError:
        revision = None
    return _act(
        request,
        project_slug,
        approval_id,
        approval_request_approve,
        "Request #{id} approved and applied to {env}.",
        revision=revision,
    )


@login_required
@require_http_methods(["GET", "POST"])
def approval_reject_view(request, project_slug: str, approval_id: int):
    project_get_for_user(user=request.user, slug=project_slug, min_role=Role.OWNER)
    a = approval_get_for_user(user=request.user, project_slug=project_slug, pk=approval_id)
    error = ""
    if request.method == "POST":
        try:
            approval_request_reject(
                approval=a, actor=request.user, reason=request.POST.get("reason", "")
            )
        except ValidationError as exc:
            error = _text(exc)
        else:
            messages.success(request, f"Request #{a.pk} rejected; {a.environment.name} unchanged.")
            return redirect(_detail_url(a))
    context = _detail_context(request, a, error=error, reason=request.POST.get("reason", ""))
    if request.htmx:
        return render(request, "deployments/approvals/_reject_form.html", context)
    status = 400 if error else 200
    return render(request, "deployments/approvals/reject.html", context, status=status)


@login_required
@require_POST
def approval_withdraw_view(request, project_slug: str, approval_id: int):
    return _act(
        request,
        project_slug,
        approval_id,
        approval_request_withdraw,
        "Request #{id} withdrawn; {env} unchanged.",
    )


@login_required
@require_POST
def approval_refresh_view(request, project_slug: str, approval_id: int):
    return _act(
        request,
        project_slug,
        approval_id,
        approval_request_refresh,
        "Request #{id} refreshed: its diff now shows what would change in {env} today.",
    )


_A = "p/<slug:project_slug>/approvals"
urlpatterns = [
    path(f"{_A}/", approvals_view, name="approvals"),
    path(f"{_A}/<int:approval_id>/", approval_detail_view, name="approval_detail"),
    path(f"{_A}/<int:approval_id>/approve/", approval_approve_view, name="approval_approve"),
    path(f"{_A}/<int:approval_id>/reject/", approval_reject_view, name="approval_reject"),
    path(f"{_A}/<int:approval_id>/withdraw/", approval_withdraw_view, name="approval_withdraw"),
    path(f"{_A}/<int:approval_id>/refresh/", approval_refresh_view, name="approval_refresh"),
]


# --- requests made from the Deploy pages ----------------------------------------------------
def request_change(request, *, component, environment, action: str, form=None, **change):
    """Turn a deploy page's change into a request. The redirect to the new request, or None
    with the refusal on `form` (or as a message when there is no form)."""
    from deployments.approvals.services import approval_request_create

    try:
        a = approval_request_create(
            component=component,
            environment=environment,
            action=action,
            actor=request.user,
            comment=request.POST.get("comment", ""),
            **change,
        )
    except ValidationError as exc:
        if form is None:
            messages.error(request, f"Request refused: {_text(exc)}")
        elif hasattr(exc, "error_dict"):
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form.add_error(None, exc.messages)
        return None
    messages.success(
        request,
        f"Request #{a.pk} sent: {environment.name} changes once an owner approves it.",
    )
    return redirect(_detail_url(a))
