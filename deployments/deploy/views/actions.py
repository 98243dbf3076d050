"""Suspend, resume, undeploy, rollback, run now and policies of a deployment."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from deployments.approvals.services import approval_needed
from deployments.approvals.views import request_change
from deployments.deploy.forms import PolicyFields, RollbackForm, RunNowForm
from deployments.deploy.selectors import live_deployment, succeeded_builds
from deployments.deploy.services.lifecycle import deployment_rollback
from deployments.deploy.services.repository import locked_by
from deployments.deploy.services.state import (
    deployment_resume,
    deployment_suspend,
    deployment_undeploy,
    deployment_update_policies,
)
from deployments.deploy.views.common import add_errors, back, errors_text, load, load_change
from deployments.executions.actions import execution_run_now


# --- suspend / resume / undeploy / rollback ---------------------------------------------------
def _state_change(request, project_slug, name, env_slug, service, action: str, done: str):
    component, environment = load(request, project_slug, name, env_slug)
    deployment = live_deployment(component=component, environment=environment)
    if deployment is None:
        messages.error(request, f"Nothing is deployed in {environment.name}.")
        return back(component, environment)
    try:
        service(deployment=deployment, actor=request.user)
    except ValidationError as exc:
        messages.error(request, f"Cannot {action}: {errors_text(exc)}")
    else:
        messages.success(request, done.format(env=environment.name))
    return back(component, environment)


@login_required
@require_POST
def suspend_view(request, project_slug: str, name: str, env_slug: str):
    return _state_change(
        request,
        project_slug,
        name,
        env_slug,
        deployment_suspend,
        "suspend",
        "Suspended in {env}: ticks are recorded as skipped until you resume.",
    )


@login_required
@require_POST
def resume_view(request, project_slug: str, name: str, env_slug: str):
    return _state_change(
        request, project_slug, name, env_slug, deployment_resume, "resume", "Resumed in {env}."
    )


@login_required
@require_http_methods(["GET", "POST"])
def undeploy_view(request, project_slug: str, name: str, env_slug: str):
    if request.method == "POST":
        return _state_change(
            request,
            project_slug,
            name,
            env_slug,
            deployment_undeploy,
            "undeploy",
            "Undeployed from {env}: no more scheduled runs. Past executions are kept.",
        )
    component, environment = load(request, project_slug, name, env_slug, change="undeploy")
    deployment = live_deployment(component=component, environment=environment)
    if deployment is None:
        messages.error(request, f"Nothing is deployed in {environment.name}.")
        return back(component, environment)
    return render(
        request,
        "deployments/deploy/undeploy.html",
        {
            "project": component.project,
            "component": component,
            "environment": environment,
            "deployment": deployment,
            "tab": "deploy",
        },
    )


@login_required
@require_POST
def rollback_view(request, project_slug: str, name: str, env_slug: str):
    component, environment = load(request, project_slug, name, env_slug)
    deployment = live_deployment(component=component, environment=environment)
    if deployment is None:
        messages.error(request, f"Nothing is deployed in {environment.name}.")
        return back(component, environment)
    form = RollbackForm(request.POST, builds=succeeded_builds(component=component))
    if not form.is_valid():
        messages.error(request, "Choose a succeeded build of this component to roll back to.")
        return back(component, environment)
    if approval_needed(user=request.user, component=component, environment=environment):
        sent = request_change(
            request,
            component=component,
            environment=environment,
            action="rollback",
            build=form.cleaned_data["build"],
        )
        return sent or back(component, environment)
    try:
        deployment_rollback(
            deployment=deployment, build=form.cleaned_data["build"], actor=request.user
        )
    except ValidationError as exc:
        messages.error(request, f"Cannot roll back: {errors_text(exc)}")
    else:
        messages.success(
            request, f"{environment.name} now runs build #{form.cleaned_data['build'].pk}."
        )
    return back(component, environment)


# --- run now ----------------------------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def run_now_view(request, project_slug: str, name: str, env_slug: str):
    component, environment = load(request, project_slug, name, env_slug, change="run")
    deployment = live_deployment(component=component, environment=environment)
    if deployment is None:
        messages.error(request, f"Nothing is deployed in {environment.name}; deploy a build first.")
        return back(component, environment)
    form = RunNowForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            execution = execution_run_now(
                deployment=deployment, actor=request.user, payload=form.cleaned_data["payload"]
            )
        except ValidationError as exc:
            form.add_error(None, f"Could not start the run: {errors_text(exc)}")
        except PermissionDenied:
            raise
        except Exception as exc:  # noqa: BLE001 - the user gets a message, not a 500
            form.add_error(None, f"Could not start the run: {exc.__class__.__name__}: {exc}")
        else:
            messages.success(
                request,
                f"Run #{execution.pk} started in {environment.name} with build "
                f"#{deployment.build_id}.",
            )
            return redirect(f"/p/{component.project.slug}/executions/{execution.pk}/")
    return render(
        request,
        "deployments/deploy/run_now.html",
        {
            "project": component.project,
            "component": component,
            "environment": environment,
            "deployment": deployment,
            "form": form,
            "tab": "deploy",
        },
        status=400 if form.is_bound and form.errors else 200,
    )


# --- policies ---------------------------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def policies_view(request, project_slug: str, name: str, env_slug: str):
    component, environment, requesting = load_change(
        request, project_slug, name, env_slug, change="change policies"
    )
    deployment = live_deployment(component=component, environment=environment)
    if deployment is None:
        messages.error(request, f"Nothing is deployed in {environment.name}.")
        return back(component, environment)
    form = PolicyFields(request.POST or None, deployment=deployment, managed=locked_by(deployment))
    if request.method == "POST" and form.is_valid() and requesting:
        sent = request_change(
            request,
            component=component,
            environment=environment,
            action="policy",
            form=form,
            policies=form.policies(),
        )
        if sent is not None:
            return sent
    elif request.method == "POST" and form.is_valid():
        try:
            deployment_update_policies(
                deployment=deployment, actor=request.user, policies=form.policies()
            )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, f"Policies of {environment.name} saved.")
            return back(component, environment)
    return render(
        request,
        "deployments/deploy/policies.html",
        {
            "project": component.project,
            "component": component,
            "environment": environment,
            "deployment": deployment,
            "form": form,
            "tab": "deploy",
            "requesting": requesting,
        },
    )
