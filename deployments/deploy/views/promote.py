"""Promotion: the form with the source schedule and the diff of what changes."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from deployments.approvals.views import request_change
from deployments.deploy.config_selectors import config_diff, contract_rows
from deployments.deploy.forms import PromoteForm
from deployments.deploy.selectors import live_deployment, schedule_preview
from deployments.deploy.services.lifecycle import deployment_promote
from deployments.deploy.services.repository import declared_for, locked_by
from deployments.deploy.services.rules import build_ran_in
from deployments.deploy.views.common import add_service_errors, back, load_change
from deployments.environments import promotion_source
from deployments.payloads import payload_clean, payload_text, payload_words
from deployments.schedules.parsing import describe, schedule_seed


# --- promote ----------------------------------------------------------------------------------
def _diff(source, target, form) -> list[dict]:
    """Rows of what changes in the target environment: before (now) and after promotion."""
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    new_schedule = data.get("schedule") or form["schedule"].value() or ""
    new_tz = data.get("timezone") or form["timezone"].value() or ""
    if "payload" in data:
        new_payload = payload_words(data["payload"])
    else:
        try:
            new_payload = payload_words(payload_clean(form["payload"].value()))
        except ValidationError:
            new_payload = "(not valid JSON)"

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
        (
            "Payload",
            payload_words(source.payload),
            payload_words(target.payload) if target else "—",
            new_payload,
        ),
    ]
    return [
        {"label": label, "source": s, "before": b, "after": a, "changed": a != b}
        for label, s, b, a in rows
    ]


@login_required
@require_http_methods(["GET", "POST"])
def promote_view(request, project_slug: str, name: str, env_slug: str):
    component, target_env, requesting = load_change(
        request, project_slug, name, env_slug, change="promote"
    )
    source_env = promotion_source(environment=target_env)
    source = live_deployment(component=component, environment=source_env)
    target = live_deployment(component=component, environment=target_env)
    if source_env is None or source is None:
        where = source_env.name if source_env else "an earlier environment"
        messages.error(request, f"Nothing is deployed in {where}, so there is nothing to promote.")
        return back(component, target_env)
    initial = {
        "schedule": target.schedule if target else source.schedule,
        "timezone": target.timezone if target else source.timezone,
        "payload": payload_text(target.payload if target else source.payload),
    }
    declared = declared_for(build=source.build, environment=target_env)
    managed = declared if declared is not None and declared.fields else locked_by(target)
    form = PromoteForm(request.POST or None, initial=initial, managed=managed)
    # The target's settings are asked for against the contract of the build being promoted.
    form.add_config_fields(
        contract_rows(component=component, environment=target_env, build=source.build),
        suggest=False,
    )
    if (
        request.method == "POST"
        and "preview" not in request.POST
        and form.is_valid()
        and requesting
    ):
        sent = request_change(
            request,
            component=component,
            environment=target_env,
            action="promote",
            form=form,
            source_environment=source_env,
            schedule=form.cleaned_data["schedule"],
            timezone=form.cleaned_data["timezone"],
            payload=form.cleaned_data["payload"],
        )
        if sent is not None:
            return sent
    elif request.method == "POST" and "preview" not in request.POST and form.is_valid():
        try:
            deployment_promote(
                component=component,
                source_env=source_env,
                target_env=target_env,
                schedule=form.cleaned_data["schedule"],
                timezone=form.cleaned_data["timezone"],
                payload=form.cleaned_data["payload"],
                config=form.config_values(),
                actor=request.user,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(
                request,
                f"Promoted build #{source.build_id} from {source_env.name} to {target_env.name}.",
            )
            return back(component, target_env)
    schedule = form["schedule"].value() or ""
    tz = form["timezone"].value() or "UTC"
    preview = schedule_preview(
        schedule, tz, seed=schedule_seed(component.project.slug, component.name, target_env.slug)
    )
    if (
        preview.error
        and form.is_bound
        and (form.has_error("schedule") or form.has_error("timezone"))
    ):
        # The same message is already shown under its field; say it once.
        preview = None
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
            "source_preview": schedule_preview(
                source.schedule,
                source.timezone,
                deployed=True,
                seed=source.schedule_seed,
                dst=source.dst_rule,
            ),
            "form": form,
            "diff": _diff(source, target, form),
            "config_diff": config_diff(
                component=component,
                source_env=source_env,
                target_env=target_env,
                build=source.build,
            ),
            "preview": preview,
            "tab": "deploy",
            "requesting": requesting,
        },
    )
