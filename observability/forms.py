"""Forms for alert channels and rules (validation proper lives in the services)."""

from __future__ import annotations

from django import forms

from deployments.models import Environment

from .models import AlertChannel, AlertRule


class AlertChannelForm(forms.Form):
    prefix = "channel"

    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=AlertChannel.Kind.choices, initial=AlertChannel.Kind.WEBHOOK)
    email_addresses = forms.CharField(
        required=False,
        label="Email addresses",
        help_text="For email channels: addresses separated by commas.",
    )
    webhook_url = forms.CharField(
        required=False,
        max_length=500,
        label="Webhook URL",
        help_text='For webhooks: receives a POST of {"text": "..."} (Slack incoming webhooks '
        "work as is). Stored encrypted, never shown again.",
    )


class AlertRuleForm(forms.Form):
    prefix = "rule"

    kind = forms.ChoiceField(choices=AlertRule.Kind.choices, label="Alert")
    threshold = forms.IntegerField(
        required=False,
        min_value=1,
        label="N",
        help_text="Failed ticks in a row, or seconds for a long run.",
    )
    environment = forms.ModelChoiceField(
        queryset=Environment.objects.all(),
        required=False,
        empty_label="Every environment",
        to_field_name="slug",
    )
    channel = forms.ModelChoiceField(queryset=AlertChannel.objects.none())
    notify_recovery = forms.BooleanField(
        required=False, initial=True, label="Also send one message on recovery"
    )

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].queryset = AlertChannel.objects.filter(project=project)
        self.fields["channel"].label_from_instance = lambda c: c.name
