"""Execution pages: the list per component, the detail with its live log, cancel, re-run.

The detail page includes exactly the fragments its log endpoint returns (new lines appended
out of band, the status and the summary swapped out of band, then the poller), so the first
render and the live updates never drift. The log endpoint reads the execution's status before
its lines: the worker stores the last lines in the same transaction as the final status, so a
response that says "finished" carries every line, and polling stops (HTTP 286).

An open page polls every second, so most polls find nothing new. The poller's URL carries a
digest of what the page shows (`state`, selectors.execution_live_state): a poll of a run that
goes on, with no new line and that digest unchanged, is answered from one query with the
running time and the next poller (`execution_log_idle`); anything else renders in full.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseStopPolling

from components.selectors import component_get_for_user
from deployments.deploy.services.rules import can_change, min_role_for
from deployments.executions.actions import execution_cancel, execution_rerun
from deployments.executions.selectors import (
    LOG_PAGE_LINES,
    execution_family,
    execution_get_for_user,
    execution_live_state,
    execution_log_idle,
    execution_log_lines,
    executions_page,
    parse_filters,
)
from deployments.executions.snapshots import config_snapshot_exists
from deployments.loglevels import FILTERS, parse_level
from deployments.models import Deployment, Environment, Execution
from portal.selectors import project_role


def _can_change(user, execution: Execution) -> bool:
    d = execution.deployment
    return can_change(user=user, component=d.component, environment=d.environment)


def _query_without(request, *names: str) -> str:
    params = request.GET.copy()
    for name in names:
        params.pop(name, None)
    return params.urlencode()


@login_required
def execution_list_view(request, project_slug: str, name: str):
    """The component's executions, newest first, filtered and paged by cursor."""
    component = component_get_for_user(user=request.user, project_slug=project_slug, name=name)
    filters = parse_filters(request.GET)
    page = executions_page(
        component=component,
        filters=filters,
        after=request.GET.get("after"),
        before=request.GET.get("before"),
    )
    # The detail links: one reverse() for the page, not one per row.
    zero = reverse("execution_detail", args=[project_slug, 0])
    prefix = zero[: -len("0/")]
    for e in page.rows:
        e.detail_url = f"{prefix}{e.pk}/"
    deployments = list(
        Deployment.objects.filter(component=component)
        .exclude(status=Deployment.Status.UNDEPLOYED)
        .select_related("environment")
        .order_by("environment__order")
    )
    context = {
        "project": component.project,
        "component": component,
        "page": page,
        "filters": filters,
        "base_query": _query_without(request, "after", "before"),
        "environments": Environment.objects.all(),
        "statuses": Execution.Status.choices,
        "triggers": Execution.Trigger.choices,
        "deployments": [
            (
                d,
                can_change(user=request.user, component=component, environment=d.environment),
            )
            for d in deployments
        ],
        "tab": "executions",
    }
    if request.htmx and request.htmx.target == "executions-table":
        return render(request, "deployments/executions/_table.html", context)
    return render(request, "deployments/executions/list.html", context)


def _level(request) -> tuple[str, int | None]:
    level_name = (request.GET.get("level") or "").strip().lower()
    level = parse_level(level_name)
    return (level_name if level is not None else ""), level


def _log_context(request, execution: Execution, *, after: int) -> dict:
    # Status first, lines second (see the module docstring).
    finished = execution.is_finished
    component = execution.deployment.component
    role = project_role(user=request.user, project=component.project)
    state = execution_live_state(execution=execution, role=role.value if role else None)
    level_name, level = _level(request)
    lines = execution_log_lines(execution=execution, after=after, level=level)
    last_seq = lines[-1].seq if lines else after
    return {
        "execution": execution,
        "component": component,
        "project": component.project,
        "environment": execution.deployment.environment,
        "lines": lines,
        "last_seq": last_seq,
        "level": level_name,
        "level_filters": FILTERS,
        # Keep polling while it runs, and while a finished log has pages left.
        "polling": not finished or len(lines) == LOG_PAGE_LINES,
        "state": state,
        "can_change": role is not None
        and role.at_least(min_role_for(execution.deployment.environment)),
    }


@login_required
def execution_detail_view(request, project_slug: str, execution_id: int):
    execution = execution_get_for_user(
        user=request.user, project_slug=project_slug, execution_id=execution_id
    )
    context = _log_context(request, execution, after=0)
    context["family"] = execution_family(execution=execution)
    context["tab"] = "executions"
    return render(request, "deployments/executions/detail.html", context)


@login_required
def execution_log_view(request, project_slug: str, execution_id: int):
    """The live log fragment: lines after `?after=<seq>`, the status, the next poller."""
    try:
        after = max(int(request.GET.get("after", "0")), 0)
    except ValueError:
        after = 0
    level_name, level = _level(request)
    idle = execution_log_idle(
        user=request.user,
        project_slug=project_slug,
        execution_id=execution_id,
        after=after,
        level=level,
        state=request.GET.get("state", ""),
    )
    if idle is not None:
        # Nothing new: the running time and the same poller again.
        return render(
            request,
            "deployments/executions/_log_idle.html",
            {
                "execution": Execution(
                    pk=idle["pk"],
                    started_at=idle["started_at"],
                    finished_at=idle["finished_at"],
                    duration_seconds=idle["duration_seconds"],
                ),
                "project": {"slug": project_slug},
                "last_seq": after,
                "level": level_name,
                "state": request.GET["state"],
                "polling": True,
            },
        )
    execution = execution_get_for_user(
        user=request.user, project_slug=project_slug, execution_id=execution_id
    )
    context = _log_context(request, execution, after=after)
    response = render(request, "deployments/executions/_log_update.html", context)
    if not context["polling"]:
        # 286: htmx swaps this last response, then stops polling.
        return HttpResponseStopPolling(response.content)
    return response


def _execution_to_change(request, project_slug: str, execution_id: int, what: str):
    """The execution (404 for outsiders) and its page's URL, if this user may act on it (403)."""
    execution = execution_get_for_user(
        user=request.user, project_slug=project_slug, execution_id=execution_id
    )
    if not _can_change(request.user, execution):
        raise PermissionDenied(
            f"Only people who can deploy to {execution.deployment.environment.name} can {what}."
        )
    return execution, reverse("execution_detail", args=[project_slug, execution.pk])


@login_required
@require_http_methods(["GET", "POST"])
def execution_cancel_view(request, project_slug: str, execution_id: int):
    """GET: confirm. POST: cancel (developers; owners in production)."""
    execution, detail = _execution_to_change(request, project_slug, execution_id, "cancel its runs")
    if request.method == "POST":
        try:
            execution = execution_cancel(execution=execution, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            if execution.status == Execution.Status.CANCELLED:
                messages.success(request, f"Execution #{execution.pk} cancelled.")
            else:
                messages.info(request, f"Stopping execution #{execution.pk}…")
        return redirect(detail)
    return render(
        request,
        "deployments/executions/cancel.html",
        {
            "execution": execution,
            "component": execution.deployment.component,
            "project": execution.deployment.component.project,
            "detail_url": detail,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def execution_rerun_view(request, project_slug: str, execution_id: int):
    """GET: confirm. POST: run this exact image again as a new execution."""
    execution, detail = _execution_to_change(
        request, project_slug, execution_id, "re-run its tasks"
    )
    if request.method == "POST":
        try:
            rerun = execution_rerun(execution=execution, actor=request.user)
        except ValidationError as exc:
            messages.error(request, "Cannot re-run: " + " ".join(exc.messages))
            return redirect(detail)
        messages.success(request, f"Execution #{rerun.pk} started: a re-run of #{execution.pk}.")
        return redirect("execution_detail", project_slug, rerun.pk)
    return render(
        request,
        "deployments/executions/rerun.html",
        {
            "execution": execution,
            "component": execution.deployment.component,
            "project": execution.deployment.component.project,
            "detail_url": detail,
            "config_changed": execution.config_revision != execution.deployment.config_revision,
            "config_kept": config_snapshot_exists(
                deployment_id=execution.deployment_id, revision=execution.config_revision
            ),
        },
    )


urlpatterns = [
    path(
        "p/<slug:project_slug>/c/<str:name>/executions/",
        execution_list_view,
        name="execution_list",
    ),
    path(
        "p/<slug:project_slug>/executions/<int:execution_id>/",
        execution_detail_view,
        name="execution_detail",
    ),
    path(
        "p/<slug:project_slug>/executions/<int:execution_id>/log/",
        execution_log_view,
        name="execution_log",
    ),
    path(
        "p/<slug:project_slug>/executions/<int:execution_id>/cancel/",
        execution_cancel_view,
        name="execution_cancel",
    ),
    path(
        "p/<slug:project_slug>/executions/<int:execution_id>/rerun/",
        execution_rerun_view,
        name="execution_rerun",
    ),
]
