"""Helpers shared by the Deploy views: loading with role checks, redirects, errors."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from components.selectors import component_get_for_user
from deployments.deploy.config_selectors import contract_rows
from deployments.deploy.forms import DeployForm
from deployments.deploy.selectors import succeeded_builds
from deployments.deploy.services.contract import MissingConfig
from deployments.deploy.services.repository import declared_for, locked_by
from deployments.deploy.services.rules import check_environment_role
from deployments.environments import environment_get
from deployments.payloads import payload_text

BUILDS_ON_PAGE = 10


def load(request, project_slug: str, name: str, env_slug: str | None = None, *, change=None):
    """(component, environment). With `change`, also require the role to change that env."""
    component = component_get_for_user(user=request.user, project_slug=project_slug, name=name)
    environment = environment_get(slug=env_slug) if env_slug else None
    if change and environment is not None:
        check_environment_role(
            actor=request.user, component=component, environment=environment, action=change
        )
    return component, environment


def deploy_url(component) -> str:
    return reverse("deploy", args=[component.project.slug, component.name])


def back(component, environment=None) -> HttpResponse:
    url = deploy_url(component)
    return redirect(f"{url}#env-{environment.slug}" if environment else url)


def errors_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def add_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def managed_for_form(component, environment, deployment, latest_build):
    """The fields chorus.toml sets in `environment` (services/repository.py): the deployment's
    marked ones, or, before the first deploy, what the latest build's file declares."""
    locked = locked_by(deployment)
    if locked is not None or latest_build is None:
        return locked
    declared = declared_for(build=latest_build, environment=environment)
    return declared if declared is not None and declared.fields else None


def deploy_form(component, environment, deployment, data=None, *, auto_prefix=True):
    initial = {"timezone": "UTC"}
    if deployment is not None:
        initial = {
            "build": deployment.build_id,
            "schedule": deployment.schedule,
            "timezone": deployment.timezone,
            "payload": payload_text(deployment.payload),
        }
    builds = succeeded_builds(component=component)
    form = DeployForm(
        data,
        initial=initial,
        builds=builds,
        deployment=deployment,
        managed=managed_for_form(component, environment, deployment, builds.first()),
        auto_id=f"id_{environment.slug}_%s" if auto_prefix else "id_%s",
    )
    # The settings asked for are those the chosen build declares (the posted one, else the
    # deployed one, else the newest): Preview re-renders them for another choice.
    build = None
    if data is not None and str(data.get("build", "")).isdigit():
        build = builds.filter(pk=int(data["build"])).first()
    if build is None:
        build = deployment.build if deployment is not None else builds.first()
    form.contract_build = build
    # A required key's declared default is pre-filled as a suggestion, except in production
    # environments, whose values are chosen on purpose.
    form.add_config_fields(
        contract_rows(component=component, environment=environment, build=build),
        suggest=not environment.is_production,
    )
    return form


def add_service_errors(form, exc: ValidationError) -> None:
    """add_errors, and each missing required setting marked at its own field."""
    add_errors(form, exc)
    if isinstance(exc, MissingConfig):
        form.mark_missing(exc.missing)


def load_change(request, project_slug: str, name: str, env_slug: str, *, change: str):
    """(component, environment, requesting) for a page that changes an environment.

    requesting: the user may not change it but may ask for the change (a developer in a
    production environment of a project whose changes there need approval,
    deployments/approvals/); otherwise the role to change it is required, as `load` does."""
    from deployments.approvals.services import approval_needed

    component, environment = load(request, project_slug, name, env_slug)
    requesting = approval_needed(user=request.user, component=component, environment=environment)
    if not requesting:
        check_environment_role(
            actor=request.user, component=component, environment=environment, action=change
        )
    return component, environment, requesting
