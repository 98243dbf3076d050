"""Who may change an environment, which build may run there, and policy validation."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q

from components.models import Component
from deployments.environments import promotion_source
from deployments.models import (
    Build,
    CatchupPolicy,
    ConcurrencyPolicy,
    Deployment,
    DeploymentEvent,
    DstRule,
    Environment,
    Execution,
)
from portal.roles import Role
from portal.selectors import require_role

# (min, max) for numbers; a list of allowed values for choices. max None: environment bound.
POLICY_RULES: dict[str, Any] = {
    "timeout_seconds": (1, None),
    "max_retries": (0, 10),
    "retry_delay_seconds": (1, 86400),
    "concurrency_policy": list(ConcurrencyPolicy.values),
    "starting_deadline_seconds": (1, 86400),
    "catchup_policy": list(CatchupPolicy.values),
    "catchup_window_seconds": (60, 30 * 86400),
    "keep_successes": (1, 1_000_000),
    "keep_failures": (1, 1_000_000),
    "keep_days": (1, 3650),
    "dst_rule": list(DstRule.values),
}
POLICY_FIELDS = tuple(POLICY_RULES)
POLICY_LABELS = {
    "timeout_seconds": "Timeout (seconds)",
    "max_retries": "Max retries",
    "retry_delay_seconds": "First retry delay (seconds)",
    "concurrency_policy": "Concurrency",
    "starting_deadline_seconds": "Starting deadline (seconds)",
    "catchup_policy": "Catch-up",
    "catchup_window_seconds": "Catch-up window (seconds)",
    "keep_successes": "Keep successes",
    "keep_failures": "Keep failures",
    "keep_days": "Keep days",
    "dst_rule": "DST rule",
}


# --- checks -----------------------------------------------------------------------------------
def min_role_for(environment: Environment) -> Role:
    return Role.OWNER if environment.is_production else Role.DEVELOPER


def can_change(*, user, component: Component, environment: Environment) -> bool:
    """Whether `user` may deploy / configure `environment` (for showing or hiding forms)."""
    from portal.selectors import project_role

    role = project_role(user=user, project=component.project)
    return role is not None and role.at_least(min_role_for(environment))


def check_environment_role(
    *, actor, component: Component, environment: Environment, action: str
) -> None:
    """404 for outsiders; PermissionDenied naming who may do `action` in `environment`."""
    if actor is None:
        return
    try:
        require_role(user=actor, project=component.project, min_role=min_role_for(environment))
    except PermissionDenied:
        if environment.is_production:
            ask = ""
            if component.project.production_approval:
                ask = (
                    " Changes here need approval in this project: send a request instead (the "
                    "Deploy page, POST …/approvals/create/ or `chorus approvals request`)."
                )
            raise PermissionDenied(
                f"Only project owners can {action} in {environment.name}.{ask}"
            ) from None
        raise PermissionDenied(
            f"Only developers and owners can {action} in {environment.name}; viewers can look "
            "but not change anything."
        ) from None


def policies_clean(policies: dict | None, *, environment: Environment) -> dict[str, Any]:
    """Validated policy values; ValidationError naming the bad field(s)."""
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    for key, value in (policies or {}).items():
        if key not in POLICY_RULES:
            errors.setdefault("__all__", []).append(f'Unknown policy "{key}".')
            continue
        rule = POLICY_RULES[key]
        if isinstance(rule, list):
            if value not in rule:
                errors[key] = [f"{POLICY_LABELS[key]} must be one of: {', '.join(rule)}."]
            else:
                out[key] = value
            continue
        lo, hi = rule
        if key == "timeout_seconds":
            hi = environment.max_run_seconds
        try:
            number = int(value)
            if isinstance(value, float | str) and str(value).strip() != str(number):
                raise ValueError
        except (TypeError, ValueError):
            errors[key] = [f"{POLICY_LABELS[key]} must be a whole number."]
            continue
        if not lo <= number <= hi:
            extra = f" ({environment.name}'s maximum run time)" if key == "timeout_seconds" else ""
            errors[key] = [f"{POLICY_LABELS[key]} must be between {lo} and {hi}{extra}."]
            continue
        out[key] = number
    if errors:
        raise ValidationError(errors)
    return out


def check_build(*, component: Component, build: Build) -> None:
    if build.component_id != component.pk:
        raise ValidationError(f"Build #{build.pk} belongs to another component.")
    if build.status != Build.Status.SUCCEEDED:
        raise ValidationError(
            f"Build #{build.pk} has not succeeded (it is {build.get_status_display().lower()}); "
            "only a succeeded build can be deployed."
        )
    if not (build.image_ref or build.image_digest):
        raise ValidationError(f"Build #{build.pk} has no image to deploy.")
    check_image_present(build=build)


def check_image_present(*, build: Build) -> None:
    """Refuse a build whose image clean-up removed (deployments/builds/images.py).

    Reads the mark under a row lock (call inside a transaction): image clean-up locks the row
    too before marking, so a deploy and a clean-up of the same build never both win.
    """
    removed_at = (
        Build.objects.select_for_update()
        .filter(pk=build.pk)
        .values_list("image_removed_at", flat=True)
        .first()
    )
    if removed_at is not None:
        build.image_removed_at = removed_at
        raise ValidationError(
            f"The image of build #{build.pk} was removed by image clean-up on "
            f"{removed_at:%Y-%m-%d}; build it again."
        )


def _same_image(build: Build) -> Q:
    """Executions that ran this build's image: by the digest each recorded from its engine
    (what really ran), whichever build started it; by the build only where no digest was
    recorded. An execution of this build that recorded another digest does not count."""
    if build.image_digest:
        return Q(image_digest=build.image_digest) | Q(build=build, image_digest="")
    return Q(build=build)


def build_ran_in(*, deployment: Deployment, build: Build) -> bool:
    """At least one execution of `deployment` with this build's image succeeded."""
    return (
        Execution.objects.filter(deployment=deployment, status=Execution.Status.SUCCEEDED)
        .filter(_same_image(build))
        .exists()
    )


def build_cleared_for(*, component: Component, build: Build, environment: Environment) -> bool:
    """May `environment` (a production one) run this build?

    Yes when the image succeeded in a lower environment of the component, or when it was
    already deployed here after passing that check (so a rollback survives execution retention).
    """
    ran_lower = (
        Execution.objects.filter(
            deployment__component=component,
            deployment__environment__order__lt=environment.order,
            status=Execution.Status.SUCCEEDED,
        )
        .filter(_same_image(build))
        .exists()
    )
    if ran_lower:
        return True
    same_image = Q(build=build)
    if build.image_digest:
        same_image |= Q(build__image_digest=build.image_digest)
    return (
        DeploymentEvent.objects.filter(
            component=component,
            environment=environment,
            outcome=DeploymentEvent.Outcome.OK,
            kind__in=[
                DeploymentEvent.Kind.DEPLOY,
                DeploymentEvent.Kind.PROMOTE,
                DeploymentEvent.Kind.ROLLBACK,
            ],
        )
        .filter(same_image)
        .exists()
    )


def check_production_gate(*, component: Component, build: Build, environment: Environment):
    if not environment.is_production:
        return
    if not build_cleared_for(component=component, build=build, environment=environment):
        lower = promotion_source(environment=environment)
        where = lower.name if lower else "a lower environment"
        raise ValidationError(
            f"Build #{build.pk} ({image_label(build)}) has never run successfully in {where}. "
            f"{environment.name} only runs an image that ran in {where} first: deploy it there, "
            "let it run (or use Run now), then promote."
        )


def image_label(build: Build) -> str:
    if build.image_digest:
        return build.image_digest[:19]
    return build.image_ref or f"commit {build.short_sha}"
