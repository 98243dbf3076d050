"""Managing alert channels and rules (developer role and up)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from components.models import Component
from deployments.models import Environment
from portal import crypto
from portal.models import Project
from portal.roles import Role
from portal.selectors import require_role

from ..models import AlertChannel, AlertDelivery, AlertRule
from .delivery import delivery_send, webhook_target_refusal


def _check(actor, project: Project) -> None:
    if actor is not None:
        require_role(user=actor, project=project, min_role=Role.DEVELOPER)


@transaction.atomic
def alert_channel_create(
    *,
    project: Project,
    actor,
    name: str,
    kind: str,
    email_addresses: str = "",
    webhook_url: str = "",
) -> AlertChannel:
    _check(actor, project)
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the channel a name."})
    if AlertChannel.objects.filter(project=project, name=name).exists():
        raise ValidationError({"name": f"A channel named “{name}” already exists."})
    channel = AlertChannel(project=project, name=name, kind=kind, created_by=actor)
    if kind == AlertChannel.Kind.EMAIL:
        addresses = [a for a in email_addresses.replace(",", " ").split() if a]
        if not addresses:
            raise ValidationError({"email_addresses": "Enter at least one email address."})
        for a in addresses:
            try:
                validate_email(a)
            except ValidationError:
                raise ValidationError(
                    {"email_addresses": f"“{a}” is not an email address."}
                ) from None
        channel.email_addresses = ", ".join(addresses)
    elif kind == AlertChannel.Kind.WEBHOOK:
        url = webhook_url.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError(
                {"webhook_url": "Enter an http:// or https:// URL (e.g. a Slack incoming webhook)."}
            )
        refusal = webhook_target_refusal(parts.hostname)
        if refusal:
            raise ValidationError({"webhook_url": refusal})
        channel.webhook_url_encrypted = crypto.encrypt(url)
        channel.webhook_host = parts.hostname + (f":{parts.port}" if parts.port else "")
    else:
        raise ValidationError({"kind": "Choose email or webhook."})
    channel.save()
    return channel


@transaction.atomic
def alert_channel_delete(*, channel: AlertChannel, actor) -> None:
    _check(actor, channel.project)
    channel.delete()


def alert_channel_test(*, channel: AlertChannel, actor) -> AlertDelivery:
    """Send a test message now; the outcome lands in the delivery log like any alert."""
    _check(actor, channel.project)
    delivery = AlertDelivery.objects.create(
        channel=channel,
        kind=AlertDelivery.Kind.TEST,
        subject=f"[Chorus] Test message for {channel.project.name}",
        message=f"Test message from Chorus for channel “{channel.name}” of {channel.project.name}.",
    )
    return delivery_send(delivery_id=delivery.pk) or delivery


@transaction.atomic
def alert_rule_create(
    *,
    component: Component,
    actor,
    kind: str,
    channel: AlertChannel,
    environment: Environment | None = None,
    threshold: int | None = None,
    notify_recovery: bool = True,
) -> AlertRule:
    _check(actor, component.project)
    if channel.project_id != component.project_id:
        raise ValidationError({"channel": "That channel belongs to another project."})
    if kind not in AlertRule.Kind.values:
        raise ValidationError({"kind": "Choose what the rule alerts on."})
    if kind in AlertRule.NEEDS_THRESHOLD:
        if not threshold or threshold < 1:
            what = (
                "failed ticks (N ≥ 1)" if kind == AlertRule.Kind.CONSECUTIVE_FAILURES else "seconds"
            )
            raise ValidationError({"threshold": f"This rule needs a number of {what}."})
    else:
        threshold = None
    return AlertRule.objects.create(
        component=component,
        environment=environment,
        kind=kind,
        threshold=threshold,
        channel=channel,
        notify_recovery=notify_recovery,
        created_by=actor,
    )


@transaction.atomic
def alert_rule_delete(*, rule: AlertRule, actor) -> None:
    _check(actor, rule.component.project)
    rule.delete()


@transaction.atomic
def alert_rule_set_enabled(*, rule: AlertRule, actor, enabled: bool) -> AlertRule:
    _check(actor, rule.component.project)
    rule.enabled = enabled
    rule.save(update_fields=["enabled"])
    return rule
