"""A Component is a scheduled task's source and build recipe (its schedule comes at deploy time)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from portal.models import Project

component_name_validator = RegexValidator(
    r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
    "Use lowercase letters, digits and dashes (1–63 characters, not starting or ending with a dash).",
)


class Component(models.Model):
    class SourceKind(models.TextChoices):
        GITHUB = "github", "GitHub repository"
        GIT = "git", "Git URL"
        SAMPLE = "sample", "Built-in sample"

    class Preset(models.TextChoices):
        DOCKERFILE = "dockerfile", "Dockerfile"
        PYTHON = "python", "Python"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="components")
    name = models.CharField(max_length=63, validators=[component_name_validator])
    description = models.TextField(blank=True)
    source_kind = models.CharField(max_length=10, choices=SourceKind.choices)
    # GitHub: "owner/name"; the connection used to reach it.
    repository = models.CharField(max_length=200, blank=True)
    github_connection = models.ForeignKey(
        "GitHubConnection", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Plain git: any URL git understands.
    git_url = models.CharField(max_length=500, blank=True)
    # Branch (GitHub) or ref (git). Empty for samples.
    branch = models.CharField(max_length=200, blank=True)
    # Path of the task inside the repository ("" = root).
    path = models.CharField(max_length=300, blank=True)
    sample_key = models.CharField(max_length=60, blank=True)
    preset = models.CharField(max_length=12, choices=Preset.choices)
    # Python preset: the command that starts the task, e.g. "python3 main.py".
    entry_command = models.CharField(max_length=300, blank=True)
    auto_build = models.BooleanField(default=False)
    # Schedules as code: builds and promotions apply chorus.toml's [environments.<slug>]
    # (deployments/deploy/services/repository.py); those fields are read-only elsewhere.
    managed_by_repository = models.BooleanField(default=False)
    # Containers run as a non-root user unless an owner allows root for this component.
    run_as_root = models.BooleanField(default=False)
    webhook_secret_encrypted = models.TextField(blank=True)
    pull_request_url = models.URLField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="component_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.project.slug}/{self.name}"

    @property
    def source_display(self) -> str:
        if self.source_kind == self.SourceKind.GITHUB:
            where = f"{self.repository}@{self.branch}"
        elif self.source_kind == self.SourceKind.GIT:
            where = f"{self.git_url}@{self.branch or 'HEAD'}"
        else:
            where = f"sample “{self.sample_key}”"
        return f"{where}:/{self.path}" if self.path else where


class GitHubConnection(models.Model):
    """A GitHub account connected to a project with a personal access token (encrypted)."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="github_connections"
    )
    base_url = models.URLField(max_length=300)
    login = models.CharField(max_length=100)
    token_encrypted = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["project", "login"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "base_url", "login"], name="github_connection_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.login} @ {self.base_url}"


class WebhookDelivery(models.Model):
    """A GitHub delivery that was accepted (its signature matched a component's secret).

    A delivery is signed over its body only, so a captured one stays valid forever: the body's
    digest (and GitHub's delivery id) are remembered, and the same delivery is not acted on
    twice, whatever X-GitHub-Delivery header a replay carries.
    """

    delivery_id = models.CharField(max_length=100)
    body_sha256 = models.CharField(max_length=64, unique=True)
    event = models.CharField(max_length=50, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["delivery_id"], name="webhook_delivery_unique_id")
        ]
