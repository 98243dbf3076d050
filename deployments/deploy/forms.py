"""Forms of the Deploy view. They validate input shape; the services enforce the rules."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from components.manifest.config import value_error
from deployments.deploy.services.config import MAX_VALUE_BYTES, validate_key
from deployments.deploy.services.rules import POLICY_FIELDS, POLICY_LABELS, POLICY_RULES
from deployments.models import Build, CatchupPolicy, ConcurrencyPolicy, Deployment, DstRule
from deployments.payloads import payload_clean
from deployments.schedules.parsing import parse_schedule
from deployments.schedules.timezones import validate_timezone

SCHEDULE_HELP = (
    "5-field cron (minute hour day month weekday, e.g. 0 2 * * *), a macro (@hourly, @daily, "
    "@weekly, @monthly, @yearly), an interval (@every 10m, @every 1h30m) or one run at a "
    "date and time in the timezone (@at 2026-12-24T18:00)."
)


def lock_managed(form: forms.Form, managed) -> None:
    """Fields chorus.toml sets (a services.repository.Declared): shown with the file's value,
    read-only; Django ignores a posted value of a disabled field and keeps the file's."""
    if managed is None:
        return
    for name in managed.fields:
        field = form.fields.get(name)
        if field is None:
            continue
        field.disabled = True
        form.initial[name] = managed.value(name)
        field.help_text = (
            f"Managed by chorus.toml at {managed.commit[:12]}: edit the file and push to change "
            "it, or turn off “Managed by the repository” in the component's settings."
        )
        field.widget.attrs["data-managed"] = managed.commit[:12]


class ScheduleFields(forms.Form):
    schedule = forms.CharField(
        max_length=100,
        help_text=SCHEDULE_HELP,
        widget=forms.TextInput(
            attrs={"placeholder": "*/10 * * * *", "autocomplete": "off", "class": "schedule-input"}
        ),
    )
    timezone = forms.CharField(
        max_length=64,
        initial="UTC",
        help_text="An IANA timezone: the schedule's hours are read in it (e.g. Europe/Berlin).",
        widget=forms.TextInput(
            attrs={"list": "timezones", "autocomplete": "off", "class": "timezone-input"}
        ),
    )

    def clean_schedule(self) -> str:
        return parse_schedule(self.cleaned_data["schedule"]).expr

    def clean_timezone(self) -> str:
        return validate_timezone(self.cleaned_data["timezone"])


def _policy_field(name: str) -> forms.Field:
    rule = POLICY_RULES[name]
    label = POLICY_LABELS[name]
    if name == "concurrency_policy":
        return forms.ChoiceField(label=label, choices=ConcurrencyPolicy.choices, required=False)
    if name == "catchup_policy":
        return forms.ChoiceField(label=label, choices=CatchupPolicy.choices, required=False)
    if name == "dst_rule":
        return forms.ChoiceField(label=label, choices=DstRule.choices, required=False)
    lo, hi = rule
    return forms.IntegerField(label=label, min_value=lo, max_value=hi, required=False)


class PolicyFields(forms.Form):
    """The deployment's policies; empty fields keep the current (or default) value."""

    def __init__(self, *args, deployment: Deployment | None = None, managed=None, **kwargs):
        super().__init__(*args, **kwargs)
        for name in POLICY_FIELDS:
            self.fields[name] = _policy_field(name)
            self.fields[name].initial = (
                getattr(deployment, name)
                if deployment is not None
                else Deployment._meta.get_field(name).default
            )
        lock_managed(self, managed)

    def policies(self) -> dict:
        return {
            name: self.cleaned_data[name]
            for name in POLICY_FIELDS
            if self.cleaned_data.get(name) not in (None, "")
        }

    def policy_fields(self):
        return [self[name] for name in POLICY_FIELDS]


# A build chosen on a page opened before it stopped being deployable (its image was cleaned up).
BUILD_ERRORS = {
    "invalid_choice": "That build can no longer be deployed (it did not succeed or its image "
    "was removed by image clean-up); pick another build or build again."
}


class PayloadField(forms.Form):
    payload = forms.CharField(
        required=False,
        label="Payload (optional JSON)",
        help_text="Given to every scheduled run in CHORUS_PAYLOAD (Run now can give its own).",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": '{"region": "eu"}'}),
    )

    def clean_payload(self):
        return payload_clean(self.cleaned_data.get("payload"))


CONFIG_PREFIX = "config_"


class ConfigFields(forms.Form):
    """One field per declared setting the environment has not set (components/manifest):
    required ones are asked for, optional ones may override their default. `rows` are
    config_selectors.SettingRow; `suggest` pre-fills a required key's declared default."""

    def add_config_fields(self, rows, *, suggest: bool) -> None:
        self.setting_rows = list(rows)
        for row in self.setting_rows:
            if row.is_set:
                continue
            decl = row.declaration
            attrs = {"autocomplete": "off", "data-config-key": decl.key}
            if decl.default is not None:
                attrs["placeholder"] = decl.default
            widget = (
                forms.PasswordInput(
                    render_value=False, attrs={**attrs, "autocomplete": "new-password"}
                )
                if row.is_secret
                else forms.TextInput(attrs=attrs)
            )
            help_parts = [decl.description] if decl.description else []
            if decl.type != "string":
                help_parts.append(f"type {decl.type}")
            if decl.default is not None:
                help_parts.append(
                    f"suggested: {decl.default}" if decl.required else f"default: {decl.default}"
                )
            self.fields[CONFIG_PREFIX + decl.key] = forms.CharField(
                label=f"{decl.key} (required)" if decl.required else decl.key,
                required=False,
                max_length=MAX_VALUE_BYTES,
                strip=False,
                widget=widget,
                help_text=" · ".join(help_parts),
                initial=decl.default if suggest and decl.required else None,
            )

    def config_field_rows(self, *, required: bool):
        """(row, bound field) of the asked settings, required or optional ones."""
        return [
            (row, self[CONFIG_PREFIX + row.key])
            for row in getattr(self, "setting_rows", [])
            if not row.is_set and row.declaration.required == required
        ]

    @property
    def config_field_rows_required(self):
        return self.config_field_rows(required=True)

    @property
    def config_field_rows_optional(self):
        return self.config_field_rows(required=False)

    @property
    def config_rows_set(self):
        return [row for row in getattr(self, "setting_rows", []) if row.is_set]

    def clean(self):
        data = super().clean()
        for row in getattr(self, "setting_rows", []):
            name = CONFIG_PREFIX + row.key
            value = (data or {}).get(name) or ""
            if value and row.declaration.type != "string":
                problem = value_error(value, row.declaration.type)
                if problem:
                    self.add_error(name, f"{row.key} {problem}.")
        return data

    def config_values(self) -> dict[str, str]:
        return {
            name[len(CONFIG_PREFIX) :]: value
            for name, value in self.cleaned_data.items()
            if name.startswith(CONFIG_PREFIX) and value
        }

    def mark_missing(self, keys) -> None:
        for key in keys:
            name = CONFIG_PREFIX + key
            if name in self.fields:
                self.add_error(name, f"{key} is required: enter a value.")


class DeployForm(ScheduleFields, PayloadField, PolicyFields, ConfigFields):
    build = forms.ModelChoiceField(
        queryset=Build.objects.none(), empty_label=None, error_messages=BUILD_ERRORS
    )

    field_order = ["build", "schedule", "timezone", "payload"]

    def __init__(self, *args, builds=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["build"].queryset = builds if builds is not None else Build.objects.none()
        self.fields["build"].label_from_instance = _build_label
        self.order_fields(self.field_order)


def _build_label(build: Build) -> str:
    digest = f" · {build.image_digest[:19]}" if build.image_digest else ""
    message = f" — {build.commit_message[:50]}" if build.commit_message else ""
    return f"#{build.pk} · {build.short_sha}{digest}{message}"


class PromoteForm(ScheduleFields, PayloadField, ConfigFields):
    def __init__(self, *args, managed=None, **kwargs):
        super().__init__(*args, **kwargs)
        lock_managed(self, managed)


class RollbackForm(forms.Form):
    build = forms.ModelChoiceField(
        queryset=Build.objects.none(), empty_label=None, error_messages=BUILD_ERRORS
    )

    def __init__(self, *args, builds=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["build"].queryset = builds if builds is not None else Build.objects.none()
        self.fields["build"].label_from_instance = _build_label


class RunNowForm(PayloadField):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["payload"].help_text = "Passed to the task as CHORUS_PAYLOAD for this run only."
        self.fields["payload"].widget.attrs["placeholder"] = '{"dry_run": true}'


class ConfigForm(forms.Form):
    key = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"placeholder": "API_URL"}))
    value = forms.CharField(
        required=False, max_length=MAX_VALUE_BYTES, widget=forms.Textarea(attrs={"rows": 1})
    )

    def clean_key(self) -> str:
        try:
            return validate_key(self.cleaned_data["key"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["key"]) from None


class SecretForm(ConfigForm):
    # Never rendered back, not even after a validation error.
    value = forms.CharField(
        max_length=MAX_VALUE_BYTES,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
