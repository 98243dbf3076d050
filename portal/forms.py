from __future__ import annotations

from django import forms

from .roles import Role


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class ApprovalSettingsForm(forms.Form):
    production_approval = forms.BooleanField(
        label="Production changes need approval",
        required=False,
        help_text="A developer's promote, rollback, deploy or policy change in Production becomes "
        "a request that an owner approves or rejects. Owners still change Production directly.",
    )
    approval_self_allowed = forms.BooleanField(
        label="A requester may approve their own request",
        required=False,
        help_text="Off: another owner must approve.",
    )


class MemberAddForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100)
    expires_in_days = forms.TypedChoiceField(
        label="Expires",
        choices=[
            ("7", "in 7 days"),
            ("30", "in 30 days"),
            ("90", "in 90 days"),
            ("365", "in a year"),
            ("", "never (until revoked)"),
        ],
        coerce=int,
        empty_value=None,
        required=False,
        initial="90",
    )


def apply_validation_error(form: forms.Form, exc) -> None:
    """Show a service's ValidationError on the form, field by field where possible."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)
