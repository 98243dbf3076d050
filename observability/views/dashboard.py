"""The component dashboard (HTML + HTMX fragments)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import render

from components.selectors import component_get_for_user
from deployments.models import Execution
from portal.selectors import project_role

from ..selectors.dashboard import Dashboard, dashboard_for, parse_range
from ..selectors.links import executions_url

STATUS_SERIES = (
    ("succeeded", "Succeeded"),
    ("partial", "Partial"),
    ("failed", "Failed"),
    ("timed_out", "Timed out"),
    ("missed", "Missed"),
    ("skipped", "Skipped"),
    ("cancelled", "Cancelled"),
)


def _iso(t) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def chart_payload(*, data: Dashboard, project, component, env_slug: str) -> dict:
    """What dashboard.js draws: labels, series, and the executions link of every bucket."""
    r = data.range
    buckets = data.buckets
    payload: dict = {
        "labels": [b.label(r.bucket) for b in buckets],
        "starts": [_iso(b.start) for b in buckets],
        "ends": [_iso(b.end) for b in buckets],
        "series": {key: [b.counts[key] for b in buckets] for key, _ in STATUS_SERIES},
        "seriesLabels": dict(STATUS_SERIES),
        "successRate": [b.success_rate for b in buckets],
        "durationP50": [b.duration_p50 for b in buckets],
        "durationP95": [b.duration_p95 for b in buckets],
        "lagP50": [b.lag_p50 for b in buckets],
        "lagP95": [b.lag_p95 for b in buckets],
        # dashboard.js appends &status=<series>&from=<start>&to=<end> of the clicked bar.
        "linkBase": executions_url(
            project_slug=project.slug, component_name=component.name, env=env_slug
        ),
    }
    return payload


@login_required
def component_dashboard(request, project_slug: str, name: str):
    component = component_get_for_user(user=request.user, project_slug=project_slug, name=name)
    project = component.project
    deployments = list(
        component.deployments.select_related("environment").order_by("environment__order")
    )
    by_env = {d.environment.slug: d for d in deployments}
    env_slug = request.GET.get("env") or ""
    if env_slug not in by_env and deployments:
        # Where there is something to see: an environment with runs, then a live deployment,
        # then whatever history is left; in environment order, so Development comes first.
        ran = set(
            Execution.objects.filter(deployment__in=deployments)
            .values_list("deployment_id", flat=True)
            .distinct()
        )
        with_runs = [d for d in deployments if d.pk in ran]
        live = [d for d in deployments if d.status != d.Status.UNDEPLOYED]
        env_slug = (with_runs or live or deployments)[0].environment.slug
    deployment = by_env.get(env_slug)

    error = ""
    try:
        time_range = parse_range(
            request.GET.get("range"), request.GET.get("from"), request.GET.get("to")
        )
    except ValidationError as exc:
        error = exc.messages[0]
        time_range = parse_range("24h")

    context = {
        "project": project,
        "component": component,
        "role": project_role(user=request.user, project=project),
        "deployments": deployments,
        "deployment": deployment,
        "env_slug": env_slug,
        "range": time_range,
        "range_error": error,
        "ranges": ("24h", "7d", "30d"),
        "custom_from": request.GET.get("from", ""),
        "custom_to": request.GET.get("to", ""),
        "tab": "dashboard",
        "series": STATUS_SERIES,
    }
    if deployment is not None:
        data = dashboard_for(deployment=deployment, time_range=time_range)
        context["data"] = data
        context["chart"] = chart_payload(
            data=data, project=project, component=component, env_slug=env_slug
        )
        context["total_link"] = executions_url(
            project_slug=project.slug,
            component_name=component.name,
            env=env_slug,
            start=time_range.start,
            end=time_range.end,
        )
    if request.htmx and request.htmx.target == "dashboard-data":
        return render(request, "observability/_dashboard_data.html", context)
    return render(request, "observability/dashboard.html", context)
