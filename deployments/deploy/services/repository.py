"""Schedules as code: the settings a component's chorus.toml declares per environment.

With "managed by the repository" on (Component.managed_by_repository), the schedule, timezone
and policies a build's chorus.toml declares for an environment (components/manifest/
environments.py, kept on Build.manifest) are what that environment's deployment runs:

- a build of a new commit applies the file's settings for the first environment
  (Development) to its deployment, when it succeeds (lifecycle.deployment_apply_repository);
- a promotion applies the promoted build's settings for the target environment
  (lifecycle.deployment_promote, through `settings_for_change`, the one hook every path that
  changes a deployment calls: deploy, promote, and whatever applies a promotion later);
- a deployment remembers which fields came from the file and the commit that set them
  (Deployment.managed_fields / managed_commit); while the component is managed, a direct
  change of one of them (browser, API, CLI) is refused with a message saying to edit the file
  or turn management off. Fields the file does not declare stay editable.

Every change still goes through lifecycle._upsert, so it is validated, recorded in the deploy
log and synced to beat exactly like a change a user makes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from deployments.deploy.services.rules import POLICY_LABELS
from deployments.models import Build, Deployment, Environment
from deployments.schedules.parsing import parse_schedule
from deployments.schedules.timezones import validate_timezone

MANAGEMENT_SETTING = "“Managed by the repository”"


@dataclass(frozen=True)
class Declared:
    """What one commit's chorus.toml declares for one environment (possibly nothing)."""

    commit: str
    schedule: str | None = None
    timezone: str | None = None
    policies: dict[str, Any] = field(default_factory=dict)

    @property
    def fields(self) -> list[str]:
        names = [n for n in ("schedule", "timezone") if getattr(self, n) is not None]
        return names + sorted(self.policies)

    @property
    def labels(self) -> list[str]:
        """The fields in words, for the page: "Schedule, Timezone, Timeout (seconds)"."""
        return [
            {"schedule": "Schedule", "timezone": "Timezone"}.get(n) or _label(n)
            for n in self.fields
        ]

    def value(self, name: str) -> Any:
        return getattr(self, name) if name in ("schedule", "timezone") else self.policies[name]


def declared_for(*, build: Build, environment: Environment) -> Declared | None:
    """What `build`'s chorus.toml declares for `environment`; None unless the component is
    managed by the repository (an empty Declared when the file says nothing about it)."""
    if not build.component.managed_by_repository:
        return None
    table = ((build.manifest or {}).get("environments") or {}).get(environment.slug) or {}
    return Declared(
        commit=build.commit_sha,
        schedule=table.get("schedule"),
        timezone=table.get("timezone"),
        policies=dict(table.get("policies") or {}),
    )


def locked_by(deployment: Deployment | None) -> Declared | None:
    """The values chorus.toml set on `deployment` and only the file may change now."""
    if deployment is None or not deployment.managed:
        return None
    names = deployment.managed
    return Declared(
        commit=deployment.managed_commit,
        schedule=deployment.schedule if "schedule" in names else None,
        timezone=deployment.timezone if "timezone" in names else None,
        policies={n: getattr(deployment, n) for n in names if n in POLICY_LABELS},
    )


def _label(name: str) -> str:
    return {"schedule": "The schedule", "timezone": "The timezone"}.get(
        name, POLICY_LABELS.get(name, name)
    )


def _normal(name: str, value: Any) -> Any:
    """A requested value in the form the deployment stores, to compare with the file's."""
    try:
        if name == "schedule":
            return parse_schedule(value).expr
        if name == "timezone":
            return validate_timezone(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
    except ValidationError:
        pass  # the change's own validation says what is wrong with it
    return value


def settings_for_change(
    *,
    environment: Environment,
    locked: Declared | None,
    schedule: str | None,
    timezone: str | None,
    policies: dict | None,
) -> tuple[str | None, str | None, dict]:
    """(schedule, timezone, policies) for a change of a deployment whose `locked` fields come
    from chorus.toml: the file's values fill what the caller left out, and a value that
    differs from the file's is refused, naming the field, the commit and the two ways out."""
    policies = dict(policies or {})
    if locked is None:
        return schedule, timezone, policies
    requested = {"schedule": schedule, "timezone": timezone, **policies}
    refused = [
        name
        for name in locked.fields
        if requested.get(name) not in (None, "")
        and _normal(name, requested[name]) != locked.value(name)
    ]
    if refused:
        labels = ", ".join(
            f"{_label(n).lower() if i else _label(n)} ({locked.value(n)})"
            for i, n in enumerate(refused)
        )
        raise ValidationError(
            f"{labels} of {environment.name} {'is' if len(refused) == 1 else 'are'} managed "
            f"by chorus.toml (commit {locked.commit[:12]}). Edit the file and push, or turn off "
            f"{MANAGEMENT_SETTING} in the component's settings to change "
            f"{'it' if len(refused) == 1 else 'them'} here.",
            code="managed",
        )
    return (
        locked.schedule if locked.schedule is not None else schedule,
        locked.timezone if locked.timezone is not None else timezone,
        {**policies, **locked.policies},
    )


def mark_managed(deployment: Deployment, declared: Declared) -> None:
    """Remember which fields the file set and at which commit (call inside the change)."""
    deployment.managed_fields = declared.fields
    deployment.managed_commit = declared.commit
    deployment.save(update_fields=["managed_fields", "managed_commit", "updated_at"])


def managed_clear(*, component) -> int:
    """Forget every mark of `component`'s deployments (management was turned off)."""
    return Deployment.objects.filter(component=component).update(
        managed_fields=[], managed_commit=""
    )
