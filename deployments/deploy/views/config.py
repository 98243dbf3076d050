"""Config variables and secrets of an environment (secrets are never rendered)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from deployments.deploy.forms import ConfigForm, SecretForm
from deployments.deploy.selectors import config_vars, environment_row
from deployments.deploy.services.config import config_delete, config_set
from deployments.deploy.views.common import add_errors, back, errors_text, load


# --- config and secrets -----------------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def config_view(request, project_slug: str, name: str, env_slug: str):
    """GET: the environment's variables (secrets masked). POST: add or replace one."""
    component, environment = load(request, project_slug, name, env_slug)
    config_form, secret_form = ConfigForm(), SecretForm()
    if request.method == "POST":
        is_secret = request.POST.get("kind") == "secret"
        form = SecretForm(request.POST) if is_secret else ConfigForm(request.POST)
        if form.is_valid():
            try:
                config_set(
                    component=component,
                    environment=environment,
                    key=form.cleaned_data["key"],
                    value=form.cleaned_data["value"],
                    is_secret=is_secret,
                    actor=request.user,
                )
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                what = "Secret" if is_secret else "Variable"
                messages.success(
                    request, f"{what} {form.cleaned_data['key']} saved in {environment.name}."
                )
                if request.POST.get("next") == "config":
                    return redirect("deploy_config", project_slug, component.name, environment.slug)
                return back(component, environment)
        if is_secret:
            secret_form = form
        else:
            config_form = form
    row = environment_row(component=component, environment=environment, user=request.user)
    return render(
        request,
        "deployments/deploy/config.html",
        {
            "project": component.project,
            "component": component,
            "environment": environment,
            "row": row,
            "config": config_vars(component=component, environment=environment),
            "config_form": config_form,
            "secret_form": secret_form,
            "tab": "deploy",
        },
        status=400 if request.method == "POST" else 200,
    )


@login_required
@require_POST
def config_delete_view(request, project_slug: str, name: str, env_slug: str, key: str):
    component, environment = load(request, project_slug, name, env_slug)
    try:
        config_delete(component=component, environment=environment, key=key, actor=request.user)
    except ValidationError as exc:
        messages.error(request, f"Cannot delete {key}: {errors_text(exc)}")
    else:
        messages.success(request, f"Deleted {key} from {environment.name}.")
    return back(component, environment)
