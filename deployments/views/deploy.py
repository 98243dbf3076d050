"""The Deploy view and its forms: deploy, preview, promote, suspend/resume, undeploy, rollback,
run now, policies, config and secrets.

Every view loads the component through component_get_for_user (404 for outsiders); pages that
change an environment check the environment's role first (developer, owner for production),
and the services check again. Actions are plain POST forms that redirect back, so the page
works without JavaScript; htmx only adds the live schedule preview.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from components.selectors import component_get_for_user

from ..forms import (
    ConfigForm,
    DeployForm,
    PolicyFields,
    PromoteForm,
    RollbackForm,
    RunNowForm,
    SecretForm,
)
from ..schedules import describe
from ..selectors.deploy import (
    config_vars,
    deploy_overview,
    deployment_events,
    environment_get,
    environment_row,
    live_deployment,
    promotion_source,
    schedule_preview,
    succeeded_builds,
)
from ..services.config import config_delete, config_set
from ..services.deploy import (
    build_ran_in,
    check_environment_role,
    deployment_deploy,
    deployment_promote,
    deployment_resume,
    deployment_rollback,
    deployment_suspend,
    deployment_undeploy,
    deployment_update_policies,
)

BUILDS_ON_PAGE = 10
FALLBACK_BUILDS_TEMPLATE = "deployments/deploy/_builds_fallback.html"


def _builds_template() -> str:
    # The builds team owns deployments/_builds.html; fall back while it does not exist.
    try:
        get_template("deployments/_builds.html")
        return "deployments/_builds.html"
    except TemplateDoesNotExist:
        return FALLBACK_BUILDS_TEMPLATE


def _load(request, project_slug: str, name: str, env_slug: str | None = None, *, change=None):
    """(component, environment). With `change`, also require the role to change that env."""
    component = component_get_for_user(user=request.user, project_slug=project_slug, name=name)
    environment = environment_get(slug=env_slug) if env_slug else None
    if change and environment is not None:
        check_environment_role(
            actor=request.user, component=component, environment=environment, action=change
        )
    return component, environment


def _deploy_url(component) -> str:
    return reverse("deploy", args=[component.project.slug, component.name])


def _back(component, environment=None) -> HttpResponse:
    url = _deploy_url(component)
    return redirect(f"{url}#env-{environment.slug}" if environment else url)


def _errors(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _add_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _deploy_form(component, environment, deployment, data=None, *, auto_prefix=True):
    initial = {"timezone": "UTC"}
    if deployment is not None:
        initial = {
            "build": deployment.build_id,
            "schedule": deployment.schedule,
            "timezone": deployment.timezone,
        }
    return DeployForm(
        data,
        initial=initial,
        builds=succeeded_builds(component=component),
        deployment=deployment,
        auto_id=f"id_{environment.slug}_%s" if auto_prefix else "id_%s",
    )


# --- the page ---------------------------------------------------------------------------------
@login_required
@require_GET
def deploy_view(request, project_slug: str, name: str):
    component, _ = _load(request, project_slug, name)
    rows = deploy_overview(component=component, user=request.user)
    for row in rows:
        row.deploy_form = _deploy_form(component, row.environment, row.deployment)
        row.rollback_form = RollbackForm(
            builds=succeeded_builds(component=component).exclude(
                pk=row.deployment.build_id if row.deployment else None
            ),
            auto_id=f"id_{row.environment.slug}_rollback_%s",
        )
        row.config_form = ConfigForm(auto_id=f"id_{row.environment.slug}_config_%s")
        row.secret_form = SecretForm(auto_id=f"id_{row.environment.slug}_secret_%s")
    from ..selectors.builds import builds_for_component

    return render(
        request,
        "deployments/deploy/page.html",
        {
            "project": component.project,
            "component": component,
            "tab": "deploy",
            "rows": rows,
            "builds": list(builds_for_component(component=component)[:BUILDS_ON_PAGE]),
            "builds_template": _builds_template(),
            "can_build": any(r.can_change for r in rows),
            "events": deployment_events(component=component),
        },
    )


@login_required
@require_GET
def schedule_preview_view(request, project_slug: str, name: str):
    """The words and next runs of a schedule being typed (htmx fragment, or a small page)."""
    _load(request, project_slug, name)
    preview = schedule_preview(
        request.GET.get("schedule", ""), request.GET.get("timezone", "") or "UTC"
    )
    return render(request, "deployments/deploy/_preview.html", {"preview": preview})


# --- deploy -----------------------------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def deploy_form_view(request, project_slug: str, name: str, env_slug: str):
    component, environment = _load(request, project_slug, name, env_slug, change="deploy")
    deployment = live_deployment(component=component, environment=environment)
    data = request.POST if request.method == "POST" else None
    form = _deploy_form(component, environment, deployment, data, auto_prefix=False)
    preview = None
    if request.method == "POST":
        preview = schedule_preview(
            request.POST.get("schedule", ""), request.POST.get("timezone", "")
        )
        if "preview" not in request.POST and form.is_valid():
            try:
                deployment_deploy(
                    component=component,
                    environment=environment,
                    build=form.cleaned_data["build"],
                    schedule=form.cleaned_data["schedule"],
                    timezone=form.cleaned_data["timezone"],
                    policies=form.policies(),
                    actor=request.user,
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(
                    request,
                    f"Deployed build #{form.cleaned_data['build'].pk} to {environment.name}: "
                    f"{describe(form.cleaned_data['schedule'])} ({form.cleaned_data['timezone']}).",
                )
                return _back(component, environment)
    elif deployment is not None:
        preview = schedule_preview(deployment.schedule, deployment.timezone)
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
        },
    )


# --- promote ----------------------------------------------------------------------------------
def _diff(source, target, form) -> list[dict]:
    """Rows of what changes in the target environment: before (now) and after promotion."""
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    new_schedule = data.get("schedule") or form["schedule"].value() or ""
    new_tz = data.get("timezone") or form["timezone"].value() or ""

    def build_label(d):
        if d is None:
            return "—"
        digest = d.build.image_digest[:19] if d.build.image_digest else d.build.image_ref
        return f"#{d.build_id} · {d.build.short_sha} · {digest}"

    def words(expr):
        try:
            return f"{expr} — {describe(expr)}"
        except ValidationError:
            return expr

    rows = [
        ("Image", build_label(source), build_label(target), build_label(source)),
        (
            "Schedule",
            words(source.schedule),
            words(target.schedule) if target else "—",
            words(new_schedule),
        ),
        ("Timezone", source.timezone, target.timezone if target else "—", new_tz),
    ]
    return [
        {"label": label, "source": s, "before": b, "after": a, "changed": a != b}
        for label, s, b, a in rows
    ]


@login_required
@require_http_methods(["GET", "POST"])
def promote_view(request, project_slug: str, name: str, env_slug: str):
    component, target_env = _load(request, project_slug, name, env_slug, change="promote")
    source_env = promotion_source(environment=target_env)
    source = live_deployment(component=component, environment=source_env) if source_env else None
    target = live_deployment(component=component, environment=target_env)
    if source_env is None or source is None:
        where = source_env.name if source_env else "an earlier environment"
        messages.error(request, f"Nothing is deployed in {where}, so there is nothing to promote.")
        return _back(component, target_env)
    initial = {
        "schedule": target.schedule if target else source.schedule,
        "timezone": target.timezone if target else source.timezone,
    }
    form = PromoteForm(request.POST or None, initial=initial)
    if request.method == "POST" and "preview" not in request.POST and form.is_valid():
        try:
            deployment_promote(
                component=component,
                source_env=source_env,
                target_env=target_env,
                schedule=form.cleaned_data["schedule"],
                timezone=form.cleaned_data["timezone"],
                actor=request.user,
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(
                request,
                f"Promoted build #{source.build_id} from {source_env.name} to {target_env.name}.",
            )
            return _back(component, target_env)
    schedule = form["schedule"].value() or ""
    tz = form["timezone"].value() or "UTC"
    return render(
        request,
        "deployments/deploy/promote.html",
        {
            "project": component.project,
            "component": component,
            "source_env": source_env,
            "target_env": target_env,
            "source": source,
            "target": target,
            "source_ran": build_ran_in(deployment=source, build=source.build),
            "source_preview": schedule_preview(source.schedule, source.timezone),
            "form": form,
            "diff": _diff(source, target, form),
            "preview": schedule_preview(schedule, tz),
            "tab": "deploy",
        },
    )


# --- suspend / resume / undeploy / rollback ---------------------------------------------------
def _state_change(request, project_slug, name, env_slug, service, action: str, done: str):
    component, environment = _load(request, project_slug, name, env_slug)
    deployment = live_deployment(component=component, environment=environment)
    if deployment is None:
        messages.error(request, f"Nothing is deployed in {environment.name}.")
        return _back(component, environment)
    try:
        service(deployment=deployment, actor=request.user)
    except ValidationError as exc:
        messages.error(request, f"Cannot {action}: {_errors(exc)}")
    else:
        messages.success(request, done.format(env=environment.name))
    return _back(component, environment)


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
    component, environment = _load(request, project_slug, name, env_slug, change="undeploy")
    deployment = live_deployment(component=component, environment=environment)
    if deployment is None:
        messages.error(request, f"Nothing is deployed in {environment.name}.")
        return _back(component, environment)
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
    component, environment = _load(request, project_slug, name, env_slug)
    deployment = live_deployment(component=component, environment=environment)
    if deployment is None:
        messages.error(request, f"Nothing is deployed in {environment.name}.")
        return _back(component, environment)
    form = RollbackForm(request.POST, builds=succeeded_builds(component=component))
    if not form.is_valid():
        messages.error(request, "Choose a succeeded build of this component to roll back to.")
        return _back(component, environment)
    try:
        deployment_rollback(
            deployment=deployment, build=form.cleaned_data["build"], actor=request.user
        )
    except ValidationError as exc:
        messages.error(request, f"Cannot roll back: {_errors(exc)}")
    else:
        messages.success(
            request, f"{environment.name} now runs build #{form.cleaned_data['build'].pk}."
        )
    return _back(component, environment)


# --- run now ----------------------------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def run_now_view(request, project_slug: str, name: str, env_slug: str):
    component, environment = _load(request, project_slug, name, env_slug, change="run")
    deployment = live_deployment(component=component, environment=environment)
    if deployment is None:
        messages.error(request, f"Nothing is deployed in {environment.name}; deploy a build first.")
        return _back(component, environment)
    form = RunNowForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            # The executions team writes this service; import late so this page works before.
            from ..services.executions import execution_run_now
        except ImportError:
            form.add_error(
                None,
                "Run now is not available yet: this Chorus has no executions service installed.",
            )
        else:
            try:
                execution = execution_run_now(
                    deployment=deployment, actor=request.user, payload=form.cleaned_data["payload"]
                )
            except ValidationError as exc:
                form.add_error(None, f"Could not start the run: {_errors(exc)}")
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
    component, environment = _load(request, project_slug, name, env_slug, change="change policies")
    deployment = live_deployment(component=component, environment=environment)
    if deployment is None:
        messages.error(request, f"Nothing is deployed in {environment.name}.")
        return _back(component, environment)
    form = PolicyFields(request.POST or None, deployment=deployment)
    if request.method == "POST" and form.is_valid():
        try:
            deployment_update_policies(
                deployment=deployment, actor=request.user, policies=form.policies()
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Policies of {environment.name} saved.")
            return _back(component, environment)
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
        },
    )


# --- config and secrets -----------------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def config_view(request, project_slug: str, name: str, env_slug: str):
    """GET: the environment's variables (secrets masked). POST: add or replace one."""
    component, environment = _load(request, project_slug, name, env_slug)
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
                _add_errors(form, exc)
            else:
                what = "Secret" if is_secret else "Variable"
                messages.success(
                    request, f"{what} {form.cleaned_data['key']} saved in {environment.name}."
                )
                if request.POST.get("next") == "config":
                    return redirect("deploy_config", project_slug, component.name, environment.slug)
                return _back(component, environment)
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
    component, environment = _load(request, project_slug, name, env_slug)
    try:
        config_delete(component=component, environment=environment, key=key, actor=request.user)
    except ValidationError as exc:
        messages.error(request, f"Cannot delete {key}: {_errors(exc)}")
    else:
        messages.success(request, f"Deleted {key} from {environment.name}.")
    return _back(component, environment)


_C = "p/<slug:project_slug>/c/<str:name>"
_E = f"{_C}/env/<slug:env_slug>"
urlpatterns = [
    path(f"{_C}/deploy/", deploy_view, name="deploy"),
    path(f"{_C}/deploy/preview/", schedule_preview_view, name="deploy_schedule_preview"),
    path(f"{_E}/deploy/", deploy_form_view, name="deploy_env"),
    path(f"{_E}/promote/", promote_view, name="deploy_promote"),
    path(f"{_E}/suspend/", suspend_view, name="deploy_suspend"),
    path(f"{_E}/resume/", resume_view, name="deploy_resume"),
    path(f"{_E}/undeploy/", undeploy_view, name="deploy_undeploy"),
    path(f"{_E}/rollback/", rollback_view, name="deploy_rollback"),
    path(f"{_E}/run/", run_now_view, name="deploy_run_now"),
    path(f"{_E}/policies/", policies_view, name="deploy_policies"),
    path(f"{_E}/config/", config_view, name="deploy_config"),
    path(f"{_E}/config/<str:key>/delete/", config_delete_view, name="deploy_config_delete"),
]
