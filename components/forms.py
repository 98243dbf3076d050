"""Forms of the component pages and of the creation wizard's steps."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from .models import Component, component_name_validator
from .samples import SAMPLES
from .sources.git import normalize_path, validate_git_url


def apply_validation_error(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form: beside its field when the form has it."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def sample_choices() -> list[tuple[str, str]]:
    return [(s.key, s.title) for s in SAMPLES.values()]


class SourceKindForm(forms.Form):
    kind = forms.ChoiceField(
        label="Where is the task's code?",
        choices=[
            (Component.SourceKind.GITHUB, "A GitHub repository"),
            (Component.SourceKind.GIT, "Any git URL"),
            (Component.SourceKind.SAMPLE, "A built-in sample"),
        ],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose where the code comes from."},
    )


class SampleForm(forms.Form):
    sample_key = forms.ChoiceField(
        label="Sample",
        choices=sample_choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose a sample."},
    )


class GitSourceForm(forms.Form):
    git_url = forms.CharField(
        label="Git URL",
        max_length=500,
        help_text="https://, ssh:// or git@host:owner/repo.git",
        widget=forms.TextInput(attrs={"placeholder": "https://git.example.com/team/tasks.git"}),
    )
    branch = forms.CharField(
        label="Branch, tag or ref",
        max_length=200,
        required=False,
        help_text="Empty: the repository's default branch.",
    )

    def clean_git_url(self) -> str:
        return validate_git_url(self.cleaned_data["git_url"])


class GitHubRepositoryForm(forms.Form):
    repository = forms.ChoiceField(
        label="Repository", error_messages={"required": "Choose a repository."}
    )

    def __init__(self, *args, repo_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["repository"].choices = [("", "— choose —"), *repo_choices]


class BranchForm(forms.Form):
    branch = forms.ChoiceField(label="Branch", error_messages={"required": "Choose a branch."})

    def __init__(self, *args, branches=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["branch"].choices = [(b, b) for b in branches]


class PathForm(forms.Form):
    path = forms.CharField(
        label="Path inside the repository",
        max_length=300,
        required=False,
        help_text="The directory holding the Dockerfile or the Python project. Empty: the root.",
        widget=forms.TextInput(attrs={"placeholder": "jobs/nightly-report"}),
    )
    pr_sample = forms.ChoiceField(
        label="Or start with a sample",
        required=False,
        widget=forms.RadioSelect,
        help_text="Chorus opens a pull request adding the sample at the path (default: a "
        "directory named after the sample).",
    )

    def __init__(self, *args, allow_pr: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if allow_pr:
            self.fields["pr_sample"].choices = [
                ("", "No — the code is already in the repository"),
                *sample_choices(),
            ]
        else:
            del self.fields["pr_sample"]

    def clean_path(self) -> str:
        return normalize_path(self.cleaned_data["path"])


class ConfirmForm(forms.Form):
    name = forms.CharField(
        max_length=63,
        validators=[component_name_validator],
        help_text="Lowercase letters, digits and dashes; it names the image and the URLs.",
    )
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )
    preset = forms.ChoiceField(label="Build preset", widget=forms.RadioSelect)
    entry_command = forms.CharField(
        label="Entry command",
        required=False,
        max_length=300,
        help_text="Python preset: the command that starts the task, e.g. python3 main.py.",
    )
    auto_build = forms.BooleanField(
        label="Build automatically on every push (needs the push webhook)", required=False
    )

    def __init__(self, *args, presets=("dockerfile", "python"), allow_auto_build=True, **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(Component.Preset.choices)
        self.fields["preset"].choices = [(p, labels[p]) for p in presets]
        if not allow_auto_build:
            # Built-in samples never receive pushes; a posted value is ignored.
            del self.fields["auto_build"]

    def clean(self):
        data = super().clean()
        if data.get("preset") == Component.Preset.PYTHON and not data.get("entry_command"):
            self.add_error("entry_command", "The Python preset needs an entry command.")
        return data


class ComponentEditForm(forms.ModelForm):
    class Meta:
        model = Component
        fields = [
            "description",
            "git_url",
            "branch",
            "path",
            "preset",
            "entry_command",
            "auto_build",
            "run_as_root",
            "managed_by_repository",
        ]
        labels = {
            "branch": "Branch or ref",
            "auto_build": "Build automatically on every push",
            "run_as_root": "Run as root in its container (owners only)",
            "managed_by_repository": "Managed by the repository (schedules as code)",
        }
        help_texts = {
            "managed_by_repository": "On: each build of a new commit applies chorus.toml's "
            "[environments.dev] schedule, timezone and policies to Development, and a promotion "
            "applies [environments.prod] to Production; those fields are then read-only here.",
            "run_as_root": "Off: the task runs as an unprivileged user (uid 65534 unless the "
            "image names another non-root uid). Only owners can change this.",
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 2}), "preset": forms.RadioSelect}

    def __init__(self, *args, owner: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not owner:
            del self.fields["run_as_root"]
        kind = self.instance.source_kind
        if "preset" in self.fields:
            self.fields["preset"].choices = Component.Preset.choices
        if kind != Component.SourceKind.GIT:
            del self.fields["git_url"]
        if kind == Component.SourceKind.SAMPLE:
            for name in ("branch", "path", "preset", "entry_command", "auto_build"):
                del self.fields[name]
        else:
            self.fields["branch"].required = kind == Component.SourceKind.GITHUB

    def clean_git_url(self) -> str:
        return validate_git_url(self.cleaned_data["git_url"])

    def clean_path(self) -> str:
        return normalize_path(self.cleaned_data["path"])

    def _post_clean(self):
        # The service validates and saves; the ModelForm must not write to the instance.
        pass


class GitHubConnectForm(forms.Form):
    token = forms.CharField(
        label="Personal access token",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Needs read access to the repositories (and contents + pull requests write "
        "to open sample pull requests). Stored encrypted; never shown again.",
    )
    base_url = forms.URLField(
        label="GitHub API URL",
        assume_scheme="https",
        max_length=300,
        help_text="https://api.github.com, or https://<host>/api/v3 for GitHub Enterprise.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["base_url"].initial = settings.CHORUS_GITHUB_API_URL


class DeleteForm(forms.Form):
    confirm_name = forms.CharField(label="Type the component's name to confirm")

    def __init__(self, *args, expected: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.expected = expected

    def clean_confirm_name(self) -> str:
        value = self.cleaned_data["confirm_name"].strip()
        if value != self.expected:
            raise ValidationError(f"Type “{self.expected}” to delete it.")
        return value
