"""Build pages: queue (POST), list, detail with the live log, the log fragment, cancel.

The detail page includes exactly the fragments the log endpoint returns (new lines appended
out of band, the status badge and summary swapped out of band, and the poller itself), so
the first render and the live updates never drift. The log endpoint reads the build's status
*before* its lines: the worker writes the last line before the final status, so a response
that says "finished" always carries every line, and polling can stop.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseStopPolling

from components.selectors import component_get_for_user
from deployments.builds.selectors import (
    LOG_PAGE_LINES,
    build_get_for_user,
    build_log_lines,
    builds_for_component,
)
from deployments.builds.services import build_cancel, build_queue
from portal.roles import Role
from portal.selectors import project_role

BUILDS_PER_PAGE = 25
RECENT_BUILDS = 10  # the Deploy view's builds table (templates/deployments/_builds.html)


def _can_build(user, project) -> bool:
    role = project_role(user=user, project=project)
    return bool(role and role.at_least(Role.DEVELOPER))


def _next_url(request, default: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _live_table(request, component, rows, poll_url: str):
    """The builds table alone, for its own refresh (templates/deployments/builds/_live_table)."""
    context = {
        "project": component.project,
        "component": component,
        "rows": list(rows),
        "poll_url": poll_url,
    }
    return render(request, "deployments/builds/_live_table.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def build_list_view(request, project_slug: str, name: str):
    """GET: the component's builds, paginated. POST: queue a build (developer or owner)."""
    if request.method == "POST":
        return _build_create(request, project_slug, name)
    component = component_get_for_user(user=request.user, project_slug=project_slug, name=name)
    base = reverse("build_list", args=[component.project.slug, component.name])
    if request.htmx and request.GET.get("fragment") == "recent":
        # The Deploy view's table of the newest builds, refreshing itself.
        rows = builds_for_component(component=component)[:RECENT_BUILDS]
        return _live_table(request, component, rows, f"{base}?fragment=recent")
    page = Paginator(builds_for_component(component=component), BUILDS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    poll_url = f"{base}?page={page.number}&fragment=page"
    if request.htmx and request.GET.get("fragment") == "page":
        return _live_table(request, component, page.object_list, poll_url)
    return render(
        request,
        "deployments/builds/list.html",
        {
            "project": component.project,
            "component": component,
            "builds": page.object_list,
            "page_obj": page,
            "can_build": _can_build(request.user, component.project),
            "tab": "deploy",
            "poll_url": poll_url,
        },
    )


def _build_create(request, project_slug: str, name: str):
    component = component_get_for_user(
        user=request.user, project_slug=project_slug, name=name, min_role=Role.DEVELOPER
    )
    back = _next_url(request, reverse("build_list", args=[project_slug, component.name]))
    try:
        build = build_queue(component=component, actor=request.user)
    except ValidationError as exc:
        messages.error(request, "Cannot build: " + " ".join(exc.messages))
        return redirect(back)
    if getattr(build, "reused", False):
        messages.info(
            request,
            f"A build of commit {build.short_sha} is already {build.get_status_display().lower()} "
            f"(build #{build.pk}); showing it instead of queueing another.",
        )
    else:
        messages.success(request, f"Build #{build.pk} queued for commit {build.short_sha}.")
    return redirect("build_detail", project_slug, component.name, build.pk)


def _log_context(request, build, *, after: int) -> dict:
    # Status first, lines second (see the module docstring).
    finished = build.is_finished
    lines = build_log_lines(build=build, after=after)
    last_seq = lines[-1].seq if lines else after
    component = build.component
    return {
        "build": build,
        "component": component,
        "project": component.project,
        "lines": lines,
        "last_seq": last_seq,
        # Keep polling while the build runs, and while a finished log has pages left.
        "polling": not finished or len(lines) == LOG_PAGE_LINES,
        "can_cancel": not finished and _can_build(request.user, component.project),
    }


@login_required
def build_detail_view(request, project_slug: str, name: str, build_id: int):
    build = build_get_for_user(
        user=request.user, project_slug=project_slug, name=name, build_id=build_id
    )
    context = _log_context(request, build, after=0)
    context["tab"] = "deploy"
    return render(request, "deployments/builds/detail.html", context)


@login_required
def build_log_view(request, project_slug: str, name: str, build_id: int):
    """The log fragment: lines after `?after=<seq>`, the status, and the next poller."""
    build = build_get_for_user(
        user=request.user, project_slug=project_slug, name=name, build_id=build_id
    )
    try:
        after = max(int(request.GET.get("after", "0")), 0)
    except ValueError:
        after = 0
    context = _log_context(request, build, after=after)
    response = render(request, "deployments/builds/_log_update.html", context)
    if not context["polling"]:
        # 286: htmx swaps this last response, then stops polling.
        return HttpResponseStopPolling(response.content)
    return response


@login_required
@require_http_methods(["GET", "POST"])
def build_cancel_view(request, project_slug: str, name: str, build_id: int):
    """GET: confirm. POST: cancel (developer or owner)."""
    build = build_get_for_user(
        user=request.user,
        project_slug=project_slug,
        name=name,
        build_id=build_id,
        min_role=Role.DEVELOPER,
    )
    detail = reverse("build_detail", args=[project_slug, build.component.name, build.pk])
    if request.method == "POST":
        try:
            build = build_cancel(build=build, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            if build.status == build.Status.CANCELLED:
                messages.success(request, f"Build #{build.pk} cancelled.")
            else:
                messages.info(request, f"Stopping build #{build.pk}…")
        return redirect(detail)
    return render(
        request,
        "deployments/builds/cancel.html",
        {
            "build": build,
            "component": build.component,
            "project": build.component.project,
            "detail_url": detail,
        },
    )


urlpatterns = [
    path("p/<slug:project_slug>/c/<str:name>/builds/", build_list_view, name="build_list"),
    path(
        "p/<slug:project_slug>/c/<str:name>/builds/<int:build_id>/",
        build_detail_view,
        name="build_detail",
    ),
    path(
        "p/<slug:project_slug>/c/<str:name>/builds/<int:build_id>/log/",
        build_log_view,
        name="build_log",
    ),
    path(
        "p/<slug:project_slug>/c/<str:name>/builds/<int:build_id>/cancel/",
        build_cancel_view,
        name="build_cancel",
    ),
]
