"""The Deploy page, the live schedule preview and the deploy form."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from deployments.approvals.selectors import recent_for_component
from deployments.approvals.services import approval_needed
from deployments.approvals.views import request_change
from deployments.deploy.forms import ConfigForm, RollbackForm, SecretForm
from deployments.deploy.selectors import (
    deploy_overview,
    deployment_events_page,
    live_deployment,
    schedule_preview,
    succeeded_builds,
)
from deployments.deploy.services.lifecycle import deployment_deploy
from deployments.deploy.views.common import (
    BUILDS_ON_PAGE,
    add_service_errors,
    back,
    deploy_form,
    load,
    load_change,
)
from deployments.schedules.parsing import describe, schedule_seed


# --- the page ---------------------------------------------------------------------------------
@login_required
@require_GET
def deploy_view(request, project_slug: str, name: str):
    component, _ = load(request, project_slug, name)
    rows = deploy_overview(component=component, user=request.user)
    for row in rows:
        row.deploy_form = deploy_form(component, row.environment, row.deployment)
        row.rollback_form = RollbackForm(
            builds=succeeded_builds(component=component).exclude(
                pk=row.deployment.build_id if row.deployment else None
            ),
            auto_id=f"id_{row.environment.slug}_rollback_%s",
        )
        row.config_form = ConfigForm(auto_id=f"id_{row.environment.slug}_config_%s")
        row.secret_form = SecretForm(auto_id=f"id_{row.environment.slug}_secret_%s")
        row.can_request = approval_needed(
            user=request.user, component=component, environment=row.environment
        )
    from deployments.builds.selectors import builds_for_component

    events_page = deployment_events_page(component=component, page=request.GET.get("events_page"))
    return render(
        request,
        "deployments/deploy/page.html",
        {
            "project": component.project,
            "component": component,
            "tab": "deploy",
            "rows": rows,
            "builds": list(builds_for_component(component=component)[:BUILDS_ON_PAGE]),
            "can_build": any(r.can_change for r in rows),
            "events_page": events_page,
            "events": events_page.object_list,
            "approval_requests": recent_for_component(component=component),
        },
    )


@login_required
@require_GET
def schedule_preview_view(request, project_slug: str, name: str):
    """The words and next runs of a schedule being typed (htmx fragment, or a small page)."""
    component, _ = load(request, project_slug, name)
    preview = schedule_preview(
        request.GET.get("schedule", ""),
        request.GET.get("timezone", "") or "UTC",
        # H is spread per environment: the form says which one it deploys to.
        seed=schedule_seed(project_slug, component.name, request.GET.get("environment", "")),
    )
    return render(request, "deployments/deploy/_preview.html", {"preview": preview})


# --- deploy -----------------------------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def deploy_form_view(request, project_slug: str, name: str, env_slug: str):
    component, environment, requesting = load_change(
        request, project_slug, name, env_slug, change="deploy"
    )
    deployment = live_deployment(component=component, environment=environment)
    data = request.POST if request.method == "POST" else None
    form = deploy_form(component, environment, deployment, data, auto_prefix=False)
    preview = None
    if request.method == "POST":
        preview = schedule_preview(
            request.POST.get("schedule", ""),
            request.POST.get("timezone", ""),
            seed=schedule_seed(component.project.slug, component.name, environment.slug),
            dst=request.POST.get("dst_rule") or "cron",
        )
        if "preview" not in request.POST and form.is_valid() and requesting:
            sent = request_change(
                request,
                component=component,
                environment=environment,
                action="deploy",
                form=form,
                build=form.cleaned_data["build"],
                schedule=form.cleaned_data["schedule"],
                timezone=form.cleaned_data["timezone"],
                policies=form.policies(),
                payload=form.cleaned_data["payload"],
            )
            if sent is not None:
                return sent
        elif "preview" not in request.POST and form.is_valid():
            try:
                deployment_deploy(
                    component=component,
                    environment=environment,
                    build=form.cleaned_data["build"],
                    schedule=form.cleaned_data["schedule"],
                    timezone=form.cleaned_data["timezone"],
                    policies=form.policies(),
                    payload=form.cleaned_data["payload"],
                    config=form.config_values(),
                    actor=request.user,
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                deployment_seed = schedule_seed(
                    component.project.slug, component.name, environment.slug
                )
                messages.success(
                    request,
                    f"Deployed build #{form.cleaned_data['build'].pk} to {environment.name}: "
                    f"{describe(form.cleaned_data['schedule'], deployment_seed)} ({form.cleaned_data['timezone']}).",
                )
                return back(component, environment)
        if preview.error and (form.has_error("schedule") or form.has_error("timezone")):
            # The same message is already shown under its field; say it once.
            preview = None
    elif deployment is not None:
        preview = schedule_preview(
            deployment.schedule,
            deployment.timezone,
            deployed=True,
            done=deployment.is_done,
            seed=deployment.schedule_seed,
            dst=deployment.dst_rule,
        )
    return render(
        request,
        "deployments/deploy/deploy_form.html",
        {
            "project": component.project,
            "component": component,
            "environment": environment,
            "deployment": deployment,
            "form": form,
            "preview": preview,
            "tab": "deploy",
            "requesting": requesting,
        },
    )
