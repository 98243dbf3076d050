"""The project-wide executions explorer."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from deployments.models import Environment, Execution
from portal.selectors import project_get_for_user, project_role

from ..selectors.executions import executions_page, parse_filters


def _query_without(request, *names: str) -> str:
    params = request.GET.copy()
    for n in names:
        params.pop(n, None)
    return params.urlencode()


@login_required
def executions_explorer(request, project_slug: str):
    project = project_get_for_user(user=request.user, slug=project_slug)
    filters = parse_filters(request.GET)
    page = executions_page(
        project=project,
        filters=filters,
        after=request.GET.get("after"),
        before=request.GET.get("before"),
    )
    base_query = _query_without(request, "after", "before")
    context = {
        "project": project,
        "role": project_role(user=request.user, project=project),
        "page": page,
        "filters": filters,
        "base_query": base_query,
        "statuses": Execution.Status.choices,
        "triggers": Execution.Trigger.choices,
        # The filter's (value, label) choices.
        "environments": Environment.objects.values_list("slug", "name"),
        "components": [(name, name) for name in page.components],
        "selected_status": request.GET.get("status", ""),
        "filter_from": request.GET.get("from", ""),
        "filter_to": request.GET.get("to", ""),
    }
    if request.htmx and request.htmx.target == "executions-results":
        return render(request, "observability/_executions_results.html", context)
    return render(request, "observability/executions.html", context)
