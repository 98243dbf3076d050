"""Component pages: list, creation wizard, detail, edit, delete, GitHub connections, webhook."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from deployments.deploy.services.rules import can_change
from portal.roles import Role
from portal.selectors import project_get_for_user, project_role

from . import services
from .forms import ComponentEditForm, DeleteForm, GitHubConnectForm, apply_validation_error
from .models import Component
from .selectors import (
    component_environments_in_use,
    component_get_for_user,
    component_rows,
    component_webhook_secret,
    github_connection_get,
    github_connections,
)
from .webhooks import webhook_push_receive
from .wizard import Wizard


def _role_ctx(request, project) -> dict:
    role = project_role(user=request.user, project=project)
    return {"project": project, "role": role, "can_edit": bool(role and role.at_least("developer"))}


def webhook_url() -> str:
    return settings.CHORUS_BASE_URL.rstrip("/") + reverse("github_webhook")


@login_required
def component_list_view(request, project_slug: str):
    project = project_get_for_user(user=request.user, slug=project_slug)
    environments, rows = component_rows(project=project)
    return render(
        request,
        "components/list.html",
        {**_role_ctx(request, project), "environments": environments, "rows": rows},
    )


@login_required
@require_http_methods(["GET", "POST"])
def component_create_view(request, project_slug: str):
    project = project_get_for_user(user=request.user, slug=project_slug, min_role=Role.DEVELOPER)
    wizard = Wizard(
        project=project,
        user=request.user,
        data=request.POST if request.method == "POST" else request.GET,
    )
    view = wizard.submit() if request.method == "POST" else wizard.start()
    if view.created is not None:
        component = view.created
        if component.pull_request_url:
            messages.success(
                request,
                f"Component “{component.name}” created and a pull request with the sample was "
                "opened; merge it, then build.",
            )
        else:
            messages.success(request, f"Component “{component.name}” created.")
        url = reverse("component_detail", args=[project.slug, component.name])
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    ctx = {**_role_ctx(request, project), **view.context}
    template = "components/_wizard.html" if request.htmx else "components/wizard.html"
    return render(request, template, ctx)


@login_required
def component_detail_view(request, project_slug: str, name: str):
    component = component_get_for_user(user=request.user, project_slug=project_slug, name=name)
    project = component.project
    environments, rows = component_rows(
        project=project, components=Component.objects.filter(pk=component.pk)
    )
    return render(
        request,
        "components/detail.html",
        {
            **_role_ctx(request, project),
            "component": component,
            "row": rows[0],
            "environments": environments,
            "webhook_url": webhook_url(),
            "tab": "overview",
        },
    )


@login_required
def component_webhook_secret_view(request, project_slug: str, name: str):
    """The secret, revealed on request (developers and owners; a fragment for htmx)."""
    component = component_get_for_user(user=request.user, project_slug=project_slug, name=name)
    secret = component_webhook_secret(component=component, user=request.user)
    ctx = {**_role_ctx(request, component.project), "component": component, "secret": secret}
    ctx["webhook_url"] = webhook_url()
    if request.htmx:
        return render(request, "components/_webhook_secret.html", ctx)
    return render(request, "components/webhook_secret.html", ctx)


@login_required
@require_POST
def component_webhook_secret_rotate_view(request, project_slug: str, name: str):
    component = component_get_for_user(
        user=request.user, project_slug=project_slug, name=name, min_role=Role.DEVELOPER
    )
    services.component_webhook_secret_rotate(component=component, actor=request.user)
    messages.success(request, "A new webhook secret was generated; update it on GitHub.")
    return redirect("component_webhook_secret", project_slug, name)


@login_required
@require_http_methods(["GET", "POST"])
def component_edit_view(request, project_slug: str, name: str):
    component = component_get_for_user(
        user=request.user, project_slug=project_slug, name=name, min_role=Role.DEVELOPER
    )
    role = project_role(user=request.user, project=component.project)
    form = ComponentEditForm(
        request.POST or None, instance=component, owner=bool(role and role.at_least(Role.OWNER))
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.component_update(component=component, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Component “{component.name}” saved.")
            return redirect("component_detail", project_slug, component.name)
    return render(
        request,
        "components/edit.html",
        {**_role_ctx(request, component.project), "component": component, "form": form},
    )


@login_required
@require_http_methods(["GET", "POST"])
def component_delete_view(request, project_slug: str, name: str):
    component = component_get_for_user(
        user=request.user, project_slug=project_slug, name=name, min_role=Role.DEVELOPER
    )
    form = DeleteForm(request.POST or None, expected=component.name)
    refused = ""
    if request.method == "POST" and form.is_valid():
        try:
            services.component_delete(component=component, actor=request.user)
        except PermissionDenied as exc:
            refused = str(exc)
        else:
            messages.success(request, f"Component “{name}” and its schedules were deleted.")
            return redirect("component_list", project_slug)
    deployments = component.deployments.select_related("environment").order_by("environment__order")
    owners_only = [
        e.name
        for e in component_environments_in_use(component=component)
        if not can_change(user=request.user, component=component, environment=e)
    ]
    return render(
        request,
        "components/delete.html",
        {
            **_role_ctx(request, component.project),
            "component": component,
            "form": form,
            "deployments": deployments,
            "build_count": component.builds.count(),
            "owners_only": owners_only,
            "refused": refused,
        },
        status=403 if refused else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def github_connections_view(request, project_slug: str):
    project = project_get_for_user(user=request.user, slug=project_slug)
    form = GitHubConnectForm(request.POST or None)
    if request.method == "POST":
        project = project_get_for_user(
            user=request.user, slug=project_slug, min_role=Role.DEVELOPER
        )
        if form.is_valid():
            try:
                connection = services.github_connection_create(
                    project=project,
                    actor=request.user,
                    token=form.cleaned_data["token"],
                    base_url=form.cleaned_data["base_url"],
                )
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, f"GitHub account {connection.login} connected.")
                if request.POST.get("next") == "wizard":
                    return redirect(
                        reverse("component_create", args=[project.slug]) + "?kind=github"
                    )
                return redirect("github_connections", project.slug)
    return render(
        request,
        "components/github_connections.html",
        {
            **_role_ctx(request, project),
            "connections": github_connections(project=project),
            "form": form,
            "next": request.GET.get("next") or request.POST.get("next") or "",
        },
    )


@login_required
@require_POST
def github_connection_delete_view(request, project_slug: str, connection_id: int):
    project = project_get_for_user(user=request.user, slug=project_slug, min_role=Role.DEVELOPER)
    connection = github_connection_get(project=project, pk=connection_id)
    services.github_connection_delete(connection=connection, actor=request.user)
    messages.success(request, f"GitHub account {connection.login} disconnected.")
    return redirect("github_connections", project.slug)


@csrf_exempt
@require_POST
def github_webhook_view(request) -> HttpResponse:
    result = webhook_push_receive(
        body=request.body,
        event=request.headers.get("X-GitHub-Event", ""),
        signature=request.headers.get("X-Hub-Signature-256"),
        delivery_id=request.headers.get("X-GitHub-Delivery"),
        content_type=request.content_type or "application/json",
    )
    return JsonResponse(result.data, status=result.status)
