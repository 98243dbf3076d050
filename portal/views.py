"""Home, projects, members, API tokens and friendly error pages."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from . import services
from .forms import (
    ApiTokenForm,
    ApprovalSettingsForm,
    MemberAddForm,
    MemberRoleForm,
    ProjectForm,
    apply_validation_error,
)
from .models import ApiToken, Membership
from .roles import Role
from .selectors import project_get_for_user, project_members, project_role, projects_for_user


@login_required
def home(request):
    projects = projects_for_user(user=request.user).prefetch_related("components")
    return render(request, "portal/home.html", {"projects": projects})


@login_required
@require_http_methods(["GET", "POST"])
def project_create(request):
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = services.project_create(
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                actor=request.user,
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Project “{project.name}” created.")
            return redirect("project_detail", project_slug=project.slug)
    return render(request, "portal/project_form.html", {"form": form})


@login_required
def project_detail(request, project_slug: str):
    project = project_get_for_user(user=request.user, slug=project_slug)
    role = project_role(user=request.user, project=project)
    # The overview body (deployed tasks, last/next run, strips) belongs to observability.
    from observability.views.overview import overview_context

    context = {
        "project": project,
        "role": role,
        "can_edit": bool(role and role.at_least("developer")),
    }
    context |= overview_context(project=project)
    if request.htmx and request.htmx.target == "project-overview":
        return render(request, "observability/_overview.html", context)
    return render(request, "portal/project_detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def project_settings(request, project_slug: str):
    project = project_get_for_user(user=request.user, slug=project_slug)
    role = project_role(user=request.user, project=project)
    form = ProjectForm(
        request.POST or None, initial={"name": project.name, "description": project.description}
    )
    approvals_form = ApprovalSettingsForm(
        request.POST if request.POST.get("section") == "approvals" else None,
        initial={
            "production_approval": project.production_approval,
            "approval_self_allowed": project.approval_self_allowed,
        },
        auto_id="id_approvals_%s",
    )
    if request.method == "POST" and approvals_form.is_bound:
        project = project_get_for_user(user=request.user, slug=project_slug, min_role=Role.OWNER)
        if approvals_form.is_valid():
            services.project_set_approvals(
                project=project, actor=request.user, **approvals_form.cleaned_data
            )
            state = "on" if project.production_approval else "off"
            messages.success(request, f"Approvals for production changes are {state}.")
            return redirect("project_settings", project_slug=project.slug)
    elif request.method == "POST":
        project = project_get_for_user(user=request.user, slug=project_slug, min_role=Role.OWNER)
        if form.is_valid():
            try:
                services.project_update(
                    project=project,
                    actor=request.user,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                )
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, "Project settings saved.")
                return redirect("project_settings", project_slug=project.slug)
    return render(
        request,
        "portal/project_settings.html",
        {"project": project, "role": role, "form": form, "approvals_form": approvals_form},
    )


@login_required
@require_http_methods(["GET", "POST"])
def project_delete(request, project_slug: str):
    project = project_get_for_user(user=request.user, slug=project_slug, min_role=Role.OWNER)
    if request.method == "POST":
        if request.POST.get("confirm_name") != project.slug:
            messages.error(request, "Type the project’s address exactly to confirm deletion.")
        else:
            name = project.name
            services.project_delete(project=project, actor=request.user)
            messages.success(request, f"Project “{name}” deleted.")
            return redirect("home")
    return render(request, "portal/project_delete.html", {"project": project})


@login_required
@require_http_methods(["GET", "POST"])
def project_members_view(request, project_slug: str):
    project = project_get_for_user(user=request.user, slug=project_slug)
    role = project_role(user=request.user, project=project)
    form = MemberAddForm(request.POST or None)
    if request.method == "POST":
        project_get_for_user(user=request.user, slug=project_slug, min_role=Role.OWNER)
        if form.is_valid():
            try:
                m = services.membership_add(
                    project=project,
                    actor=request.user,
                    username=form.cleaned_data["username"],
                    role=form.cleaned_data["role"],
                )
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, f"{m.user.username} added as {m.get_role_display()}.")
                return redirect("project_members", project_slug=project.slug)
    return render(
        request,
        "portal/project_members.html",
        {
            "project": project,
            "role": role,
            "members": project_members(project=project),
            "form": form,
            "roles": Role.choices,
        },
    )


@login_required
@require_POST
def project_member_update(request, project_slug: str, membership_id: int):
    project = project_get_for_user(user=request.user, slug=project_slug, min_role=Role.OWNER)
    membership = get_object_or_404(Membership, pk=membership_id, project=project)
    try:
        if request.POST.get("action") == "remove":
            services.membership_remove(membership=membership, actor=request.user)
            messages.success(request, f"{membership.user.username} removed from the project.")
        else:
            form = MemberRoleForm(request.POST)
            if form.is_valid():
                services.membership_change_role(
                    membership=membership, actor=request.user, role=form.cleaned_data["role"]
                )
                messages.success(
                    request, f"{membership.user.username} is now {membership.get_role_display()}."
                )
            else:
                messages.error(request, "Choose a valid role.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("project_members", project_slug=project.slug)


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request):
    form = ApiTokenForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        _, new_key = services.api_token_create(
            user=request.user,
            name=form.cleaned_data["name"],
            expires_in_days=form.cleaned_data["expires_in_days"],
        )
        form = ApiTokenForm()
    tokens = ApiToken.objects.filter(user=request.user)
    return render(
        request, "portal/api_tokens.html", {"form": form, "tokens": tokens, "new_key": new_key}
    )


@login_required
@require_POST
def api_token_revoke(request, token_id: int):
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    services.api_token_revoke(token=token, actor=request.user)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("api_tokens")


def login_locked_out(request, original_response=None, credentials=None):
    """What django-axes answers while an address is locked out (settings.AXES_*): the page,
    or the API's error shape for a password re-authentication through the API."""
    from django.conf import settings
    from django.http import JsonResponse

    minutes = max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))
    message = (
        f"Too many failed logins from your address; logging in from it is paused for "
        f"{minutes} minute{'s' if minutes != 1 else ''}."
    )
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "locked_out", "message": message}}, status=429)
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": minutes}
    return render(request, "registration/locked_out.html", context, status=429)


def csrf_failure(request, reason: str = ""):
    return render(request, "errors/csrf.html", {"reason": reason}, status=403)


def error_400(request, exception=None):
    from django.core.exceptions import BadRequest

    # Only our own BadRequest sentences are shown (a SuspiciousOperation's text is not for users).
    message = str(exception) if isinstance(exception, BadRequest) else ""
    return render(request, "errors/400.html", {"message": message}, status=400)


def error_403(request, exception=None):
    message = str(exception) if exception and str(exception) else ""
    return render(request, "errors/403.html", {"message": message}, status=403)


def error_404(request, exception=None):
    return render(request, "errors/404.html", status=404)


def error_500(request):
    return render(request, "errors/500.html", status=500)


def healthz(request):
    from django.db import connection
    from django.http import JsonResponse

    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
