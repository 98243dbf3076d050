"""Alert rules, channels, incidents and the delivery log of a component.

Everyone in the project sees them; changing them needs the developer role (checked here and
again in the services, since a POST can come without the page).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from components.selectors import component_get_for_user
from portal.forms import apply_validation_error
from portal.roles import Role
from portal.selectors import project_role

from ..forms import AlertChannelForm, AlertRuleForm
from ..models import AlertChannel, AlertDelivery, AlertRule, Incident
from ..services import alert_config


def _page(request, component, *, rule_form=None, channel_form=None, status=200):
    project = component.project
    role = project_role(user=request.user, project=project)
    context = {
        "project": project,
        "component": component,
        "role": role,
        "can_edit": role is not None and role.at_least(Role.DEVELOPER),
        "rules": AlertRule.objects.filter(component=component).select_related(
            "environment", "channel"
        ),
        "channels": AlertChannel.objects.filter(project=project),
        "incidents": Incident.objects.filter(rule__component=component)
        .select_related("rule", "deployment__environment")
        .order_by("-opened_at")[:20],
        "deliveries": AlertDelivery.objects.filter(channel__project=project)
        .filter(incident__rule__component=component)
        .select_related("channel", "incident")
        .order_by("-created_at")[:50],
        "tests": AlertDelivery.objects.filter(
            channel__project=project, kind=AlertDelivery.Kind.TEST
        ).select_related("channel")[:10],
        "rule_form": rule_form or AlertRuleForm(project=project),
        "channel_form": channel_form or AlertChannelForm(),
        "tab": "alerts",
    }
    return render(request, "observability/alerts.html", context, status=status)


@login_required
def alerts_page(request, project_slug: str, name: str):
    component = component_get_for_user(user=request.user, project_slug=project_slug, name=name)
    return _page(request, component)


def _editable(request, project_slug: str, name: str):
    return component_get_for_user(
        user=request.user, project_slug=project_slug, name=name, min_role=Role.DEVELOPER
    )


@login_required
@require_POST
def rule_create(request, project_slug: str, name: str):
    component = _editable(request, project_slug, name)
    form = AlertRuleForm(request.POST, project=component.project)
    if form.is_valid():
        try:
            rule = alert_config.alert_rule_create(
                component=component,
                actor=request.user,
                kind=form.cleaned_data["kind"],
                channel=form.cleaned_data["channel"],
                environment=form.cleaned_data["environment"],
                threshold=form.cleaned_data["threshold"],
                notify_recovery=form.cleaned_data["notify_recovery"],
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Alert rule added: {rule.describe()}.")
            return redirect("obs_alerts", project_slug, name)
    return _page(request, component, rule_form=form, status=400)


@login_required
@require_POST
def rule_delete(request, project_slug: str, name: str, rule_id: int):
    component = _editable(request, project_slug, name)
    rule = get_object_or_404(AlertRule, pk=rule_id, component=component)
    alert_config.alert_rule_delete(rule=rule, actor=request.user)
    messages.success(request, "Alert rule deleted.")
    return redirect("obs_alerts", project_slug, name)


@login_required
@require_POST
def rule_toggle(request, project_slug: str, name: str, rule_id: int):
    component = _editable(request, project_slug, name)
    rule = get_object_or_404(AlertRule, pk=rule_id, component=component)
    rule = alert_config.alert_rule_set_enabled(
        rule=rule, actor=request.user, enabled=not rule.enabled
    )
    messages.success(request, f"Alert rule {'enabled' if rule.enabled else 'paused'}.")
    return redirect("obs_alerts", project_slug, name)


@login_required
@require_POST
def channel_create(request, project_slug: str, name: str):
    component = _editable(request, project_slug, name)
    form = AlertChannelForm(request.POST)
    if form.is_valid():
        try:
            channel = alert_config.alert_channel_create(
                project=component.project, actor=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Channel “{channel.name}” added.")
            return redirect("obs_alerts", project_slug, name)
    return _page(request, component, channel_form=form, status=400)


@login_required
@require_POST
def channel_delete(request, project_slug: str, name: str, channel_id: int):
    component = _editable(request, project_slug, name)
    channel = get_object_or_404(AlertChannel, pk=channel_id, project=component.project)
    alert_config.alert_channel_delete(channel=channel, actor=request.user)
    messages.success(request, f"Channel “{channel.name}” and its rules deleted.")
    return redirect("obs_alerts", project_slug, name)


@login_required
@require_POST
def channel_test(request, project_slug: str, name: str, channel_id: int):
    component = _editable(request, project_slug, name)
    channel = get_object_or_404(AlertChannel, pk=channel_id, project=component.project)
    delivery = alert_config.alert_channel_test(channel=channel, actor=request.user)
    if delivery.status == AlertDelivery.Status.SENT:
        messages.success(request, f"Test message sent to “{channel.name}”.")
    else:
        messages.error(request, f"Test message to “{channel.name}” failed: {delivery.error}")
    return redirect("obs_alerts", project_slug, name)
