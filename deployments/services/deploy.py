"""Deploy, promote, roll back, suspend, resume and undeploy; policies. Every write is here.

Each public service runs its work in one transaction (the Deployment row, its
django-celery-beat PeriodicTask and the DeploymentEvent commit together or not at all). A
refused attempt (ValidationError / PermissionDenied) is recorded afterwards as a failed
DeploymentEvent, outside the rolled-back work, so the deploy log shows failures too.

Rules (docs/deployments.md):
- only a succeeded build of the component is deployed;
- an environment marked `is_production` only runs an image that already ran successfully
  (an Execution with status succeeded) in a lower environment of the same component;
- developers change non-production environments; only owners change production ones;
- a suspended deployment keeps its PeriodicTask enabled, so ticks still arrive and the
  executions side records them as skipped ("suspended"), never silently dropped;
- undeploy deletes the PeriodicTask and keeps the Deployment row (status "undeployed") so its
  executions and history survive; deploying again reuses the row.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from components.models import Component
from deployments.models import (
    Build,
    CatchupPolicy,
    ConcurrencyPolicy,
    Deployment,
    DeploymentEvent,
    Environment,
    Execution,
)
from deployments.schedules import Schedule, parse_schedule, to_beat_schedule, validate_timezone
from portal.roles import Role
from portal.selectors import require_role

from .config import deployment_runtime_env  # noqa: F401 - part of this module's contract

TICK_TASK = "chorus.execution.tick"
TICK_QUEUE = "executions"

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
}


def periodic_task_name(deployment: Deployment) -> str:
    return f"chorus:deployment:{deployment.pk}"


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
            raise PermissionDenied(
                f"Only project owners can {action} in {environment.name}."
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


def _check_build(*, component: Component, build: Build) -> None:
    if build.component_id != component.pk:
        raise ValidationError(f"Build #{build.pk} belongs to another component.")
    if build.status != Build.Status.SUCCEEDED:
        raise ValidationError(
            f"Build #{build.pk} has not succeeded (it is {build.get_status_display().lower()}); "
            "only a succeeded build can be deployed."
        )
    if not (build.image_ref or build.image_digest):
        raise ValidationError(f"Build #{build.pk} has no image to deploy.")


def _same_image(build: Build) -> Q:
    q = Q(build=build)
    if build.image_digest:
        q |= Q(image_digest=build.image_digest)
    return q


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


def _check_production_gate(*, component: Component, build: Build, environment: Environment):
    if not environment.is_production:
        return
    if not build_cleared_for(component=component, build=build, environment=environment):
        lower = Environment.objects.filter(order__lt=environment.order).order_by("-order").first()
        where = lower.name if lower else "a lower environment"
        raise ValidationError(
            f"Build #{build.pk} ({_image_label(build)}) has never run successfully in {where}. "
            f"{environment.name} only runs an image that ran in {where} first: deploy it there, "
            "let it run (or use Run now), then promote."
        )


def _image_label(build: Build) -> str:
    if build.image_digest:
        return build.image_digest[:19]
    return build.image_ref or f"commit {build.short_sha}"


# --- the PeriodicTask -------------------------------------------------------------------------
def _sync_periodic_task(deployment: Deployment, schedule: Schedule) -> None:
    """Create or update the deployment's PeriodicTask to match its schedule and status.

    PeriodicTask.save() bumps django-celery-beat's PeriodicTasks.last_update (also through its
    pre_save signal), which makes a running beat reload its schedule without a restart. So
    this always saves the model, never a queryset.update().
    """
    from django_celery_beat.models import PeriodicTask

    beat_schedule = to_beat_schedule(schedule, deployment.timezone)
    task = deployment.periodic_task
    if task is None:
        task = PeriodicTask.objects.filter(name=periodic_task_name(deployment)).first()
    if task is None:
        task = PeriodicTask(name=periodic_task_name(deployment))
    schedule_changed = (
        task.pk is None
        or (schedule.is_interval and task.interval_id != beat_schedule.pk)
        or (not schedule.is_interval and task.crontab_id != beat_schedule.pk)
    )
    task.task = TICK_TASK
    task.kwargs = json.dumps({"deployment_id": deployment.pk})
    task.args = "[]"
    task.queue = TICK_QUEUE
    task.crontab = None if schedule.is_interval else beat_schedule
    task.interval = beat_schedule if schedule.is_interval else None
    # Enabled while suspended too: those ticks are recorded as skipped by the executions side.
    task.enabled = deployment.status != Deployment.Status.UNDEPLOYED
    task.description = (
        f"{deployment.component} in {deployment.environment.name}: {schedule.describe()} "
        f"({deployment.timezone})"
    )[:2000]
    if schedule_changed:
        # A new schedule starts counting from now, not from a tick of the old one.
        task.last_run_at = None
    task.save()
    if deployment.periodic_task_id != task.pk:
        deployment.periodic_task = task
        deployment.save(update_fields=["periodic_task", "updated_at"])


def _delete_periodic_task(deployment: Deployment) -> None:
    from django_celery_beat.models import PeriodicTask

    task = deployment.periodic_task
    deployment.periodic_task = None
    deployment.save(update_fields=["periodic_task", "updated_at"])
    if task is not None:
        task.delete()  # model delete: bumps PeriodicTasks so beat drops it at once
    for stray in PeriodicTask.objects.filter(name=periodic_task_name(deployment)):
        stray.delete()


# --- events -----------------------------------------------------------------------------------
def _event(
    *,
    kind: str,
    component: Component,
    environment: Environment | None,
    deployment: Deployment | None = None,
    build: Build | None = None,
    actor=None,
    message: str = "",
    outcome: str = DeploymentEvent.Outcome.OK,
    schedule: str = "",
    timezone: str = "",
) -> DeploymentEvent:
    return DeploymentEvent.objects.create(
        component=component,
        environment=environment,
        deployment=deployment,
        build=build,
        kind=kind,
        outcome=outcome,
        schedule=(schedule or "")[:100],
        timezone=(timezone or "")[:64],
        message=message,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
    )


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or "Permission denied."


def _recorded(
    fn: Callable[[], Any],
    *,
    kind: str,
    component: Component,
    environment: Environment | None,
    deployment: Deployment | None = None,
    build: Build | None = None,
    actor=None,
    schedule: str = "",
    timezone: str = "",
    what: str = "",
):
    """Run `fn` in its own transaction; on a refusal, log a failed event and re-raise."""
    try:
        with transaction.atomic():
            return fn()
    except (ValidationError, PermissionDenied) as exc:
        if deployment is not None and deployment.pk is not None:
            # The rolled-back transaction may have changed the instance in memory.
            deployment = Deployment.objects.filter(pk=deployment.pk).first()
        _event(
            kind=kind,
            component=component,
            environment=environment,
            deployment=deployment,
            build=build if build is not None and build.pk else None,
            actor=actor,
            outcome=DeploymentEvent.Outcome.FAILED,
            schedule=schedule if isinstance(schedule, str) else "",
            timezone=timezone if isinstance(timezone, str) else "",
            message=f"{what}: {_error_text(exc)}" if what else _error_text(exc),
        )
        raise


def _describe_deploy(build: Build, schedule: Schedule, tz: str) -> str:
    return (
        f"build #{build.pk} ({_image_label(build)}, commit {build.short_sha}) on "
        f'"{schedule.expr}" ({schedule.describe()}) in {tz}'
    )


# --- deploy -----------------------------------------------------------------------------------
def _upsert(
    *,
    component: Component,
    environment: Environment,
    build: Build,
    schedule: str,
    timezone: str,
    actor,
    policies: dict | None,
    kind: str,
    verb: str,
    copy_policies_from: Deployment | None = None,
) -> Deployment:
    sched = parse_schedule(schedule)
    tz = validate_timezone(timezone)
    _check_build(component=component, build=build)
    _check_production_gate(component=component, build=build, environment=environment)
    cleaned = policies_clean(policies, environment=environment)

    deployment = (
        Deployment.objects.select_for_update()
        .filter(component=component, environment=environment)
        .first()
    )
    created = deployment is None
    if created:
        base = (
            {f: getattr(copy_policies_from, f) for f in POLICY_FIELDS} if copy_policies_from else {}
        )
        # Never start above the environment's maximum run time (copied or default timeout).
        timeout = base.get("timeout_seconds", Deployment._meta.get_field("timeout_seconds").default)
        base["timeout_seconds"] = min(timeout, environment.max_run_seconds)
        try:
            with transaction.atomic():
                deployment = Deployment.objects.create(
                    component=component,
                    environment=environment,
                    build=build,
                    schedule=sched.expr,
                    timezone=tz,
                    deployed_by=actor if getattr(actor, "is_authenticated", False) else None,
                    **{**base, **cleaned},
                )
        except IntegrityError:
            # Someone deployed the same component to the same environment a moment ago.
            deployment = Deployment.objects.select_for_update().get(
                component=component, environment=environment
            )
            created = False
    changes: list[str] = []
    if not created:
        if deployment.build_id != build.pk:
            changes.append(f"build #{deployment.build_id} → #{build.pk}")
        if deployment.schedule != sched.expr:
            changes.append(f'schedule "{deployment.schedule}" → "{sched.expr}"')
        if deployment.timezone != tz:
            changes.append(f"timezone {deployment.timezone} → {tz}")
        changes += [
            f"{POLICY_LABELS[k]} {getattr(deployment, k)} → {v}"
            for k, v in cleaned.items()
            if getattr(deployment, k) != v
        ]
        was_undeployed = deployment.status == Deployment.Status.UNDEPLOYED
        deployment.build = build
        deployment.schedule = sched.expr
        deployment.timezone = tz
        for k, v in cleaned.items():
            setattr(deployment, k, v)
        if was_undeployed:
            deployment.status = Deployment.Status.ACTIVE
            changes.insert(0, "deployed again after undeploy")
        deployment.deployed_by = actor if getattr(actor, "is_authenticated", False) else None
        deployment.save()
        if kind == DeploymentEvent.Kind.DEPLOY and not was_undeployed:
            build_changed = any(c.startswith("build ") for c in changes)
            schedule_changed = any(c.startswith(("schedule ", "timezone ")) for c in changes)
            if not build_changed and schedule_changed:
                kind = DeploymentEvent.Kind.SCHEDULE
            elif not build_changed and changes:
                kind = DeploymentEvent.Kind.POLICY
    _sync_periodic_task(deployment, sched)
    message = f"{verb} {_describe_deploy(build, sched, tz)}"
    if deployment.status == Deployment.Status.SUSPENDED:
        message += "; the deployment stays suspended until resumed"
    if changes:
        message += f" ({'; '.join(changes)})"
    _event(
        kind=kind,
        component=component,
        environment=environment,
        deployment=deployment,
        build=build,
        actor=actor,
        schedule=sched.expr,
        timezone=tz,
        message=message,
    )
    return deployment


def deployment_deploy(
    *,
    component: Component,
    environment: Environment,
    build: Build,
    schedule: str,
    timezone: str = "UTC",
    actor,
    policies: dict | None = None,
) -> Deployment:
    """Deploy `build` to `environment` on `schedule`: the Deployment and its PeriodicTask."""

    def work() -> Deployment:
        check_environment_role(
            actor=actor, component=component, environment=environment, action="deploy"
        )
        return _upsert(
            component=component,
            environment=environment,
            build=build,
            schedule=schedule,
            timezone=timezone,
            actor=actor,
            policies=policies,
            kind=DeploymentEvent.Kind.DEPLOY,
            verb="Deployed",
        )

    return _recorded(
        work,
        kind=DeploymentEvent.Kind.DEPLOY,
        component=component,
        environment=environment,
        build=build,
        actor=actor,
        schedule=schedule,
        timezone=timezone,
        what=f"Deploy of build #{build.pk} refused",
    )


def deployment_get(*, component: Component, environment: Environment) -> Deployment | None:
    """The live (not undeployed) deployment of `component` in `environment`, if any."""
    return (
        Deployment.objects.select_related("build", "environment", "periodic_task")
        .filter(component=component, environment=environment)
        .exclude(status=Deployment.Status.UNDEPLOYED)
        .first()
    )


def deployment_promote(
    *,
    component: Component,
    source_env: Environment,
    target_env: Environment,
    actor,
    schedule: str | None = None,
    timezone: str | None = None,
    policies: dict | None = None,
) -> Deployment:
    """Deploy the exact build running in `source_env` to `target_env`.

    The build must have succeeded at least once in the source deployment. The schedule and
    timezone default to the target's current ones (or the source's for a first promotion).
    """
    source = deployment_get(component=component, environment=source_env)

    def work() -> Deployment:
        check_environment_role(
            actor=actor, component=component, environment=target_env, action="promote"
        )
        if target_env.order <= source_env.order:
            raise ValidationError(
                f"Promotion goes forward only: {source_env.name} cannot be promoted to "
                f"{target_env.name}."
            )
        if source is None:
            raise ValidationError(
                f"Nothing is deployed in {source_env.name}, so there is nothing to promote."
            )
        build = source.build
        if not build_ran_in(deployment=source, build=build):
            raise ValidationError(
                f"Build #{build.pk} ({_image_label(build)}) has not run successfully in "
                f"{source_env.name} yet. Production only runs an image that ran in "
                f"{source_env.name} first: wait for a scheduled run or use Run now, then promote."
            )
        target = deployment_get(component=component, environment=target_env)
        sched = schedule or (target.schedule if target else source.schedule)
        tz = timezone or (target.timezone if target else source.timezone)
        return _upsert(
            component=component,
            environment=target_env,
            build=build,
            schedule=sched,
            timezone=tz,
            actor=actor,
            policies=policies,
            kind=DeploymentEvent.Kind.PROMOTE,
            verb=f"Promoted from {source_env.name}:",
            copy_policies_from=source,
        )

    return _recorded(
        work,
        kind=DeploymentEvent.Kind.PROMOTE,
        component=component,
        environment=target_env,
        build=source.build if source else None,
        actor=actor,
        schedule=schedule or "",
        timezone=timezone or "",
        what=f"Promotion from {source_env.name} to {target_env.name} refused",
    )


def deployment_rollback(*, deployment: Deployment, build: Build, actor) -> Deployment:
    """Redeploy a previous succeeded build, keeping schedule, timezone and policies."""
    component, environment = deployment.component, deployment.environment

    def work() -> Deployment:
        check_environment_role(
            actor=actor, component=component, environment=environment, action="roll back"
        )
        if deployment.status == Deployment.Status.UNDEPLOYED:
            raise ValidationError("This deployment is undeployed; deploy a build instead.")
        if build.pk == deployment.build_id:
            raise ValidationError(f"Build #{build.pk} is already deployed here.")
        return _upsert(
            component=component,
            environment=environment,
            build=build,
            schedule=deployment.schedule,
            timezone=deployment.timezone,
            actor=actor,
            policies=None,
            kind=DeploymentEvent.Kind.ROLLBACK,
            verb=f"Rolled back from build #{deployment.build_id} to",
        )

    return _recorded(
        work,
        kind=DeploymentEvent.Kind.ROLLBACK,
        component=component,
        environment=environment,
        deployment=deployment,
        build=build,
        actor=actor,
        what=f"Rollback to build #{build.pk} refused",
    )


def _set_status(*, deployment: Deployment, actor, kind: str, to: str, action: str) -> Deployment:
    component, environment = deployment.component, deployment.environment

    def work() -> Deployment:
        check_environment_role(
            actor=actor, component=component, environment=environment, action=action
        )
        d = Deployment.objects.select_for_update().get(pk=deployment.pk)
        if d.status == Deployment.Status.UNDEPLOYED:
            raise ValidationError(f"This deployment is undeployed; there is nothing to {action}.")
        if d.status == to:
            raise ValidationError(f"This deployment is already {d.get_status_display().lower()}.")
        d.status = to
        d.save(update_fields=["status", "updated_at"])
        if to == Deployment.Status.UNDEPLOYED:
            _delete_periodic_task(d)
            message = (
                f"Undeployed build #{d.build_id}: its schedule is removed; "
                "executions and history are kept"
            )
        else:
            # Re-save the PeriodicTask (still enabled) so beat reloads promptly either way.
            _sync_periodic_task(d, parse_schedule(d.schedule))
            message = (
                "Suspended: ticks are recorded as skipped until resumed"
                if to == Deployment.Status.SUSPENDED
                else "Resumed: scheduled runs start again at the next tick"
            )
        _event(
            kind=kind,
            component=component,
            environment=environment,
            deployment=d,
            build=d.build,
            actor=actor,
            schedule=d.schedule,
            timezone=d.timezone,
            message=message,
        )
        deployment.status = d.status
        deployment.periodic_task = d.periodic_task
        return d

    return _recorded(
        work,
        kind=kind,
        component=component,
        environment=environment,
        deployment=deployment,
        build=deployment.build,
        actor=actor,
        what=f"{action.capitalize()} refused",
    )


def deployment_suspend(*, deployment: Deployment, actor) -> Deployment:
    return _set_status(
        deployment=deployment,
        actor=actor,
        kind=DeploymentEvent.Kind.SUSPEND,
        to=Deployment.Status.SUSPENDED,
        action="suspend",
    )


def deployment_resume(*, deployment: Deployment, actor) -> Deployment:
    return _set_status(
        deployment=deployment,
        actor=actor,
        kind=DeploymentEvent.Kind.RESUME,
        to=Deployment.Status.ACTIVE,
        action="resume",
    )


def deployment_undeploy(*, deployment: Deployment, actor) -> Deployment:
    """Remove the schedule (PeriodicTask); keep the row, its executions and its history."""
    return _set_status(
        deployment=deployment,
        actor=actor,
        kind=DeploymentEvent.Kind.UNDEPLOY,
        to=Deployment.Status.UNDEPLOYED,
        action="undeploy",
    )


def deployment_update_policies(*, deployment: Deployment, actor, policies: dict) -> Deployment:
    """Change timeout, retries, concurrency, deadline, catch-up or retention of a deployment."""
    component, environment = deployment.component, deployment.environment

    def work() -> Deployment:
        check_environment_role(
            actor=actor, component=component, environment=environment, action="change policies"
        )
        d = Deployment.objects.select_for_update().get(pk=deployment.pk)
        if d.status == Deployment.Status.UNDEPLOYED:
            raise ValidationError("This deployment is undeployed; deploy it first.")
        cleaned = policies_clean(policies, environment=environment)
        changes = [
            f"{POLICY_LABELS[k]} {getattr(d, k)} → {v}"
            for k, v in cleaned.items()
            if getattr(d, k) != v
        ]
        for k, v in cleaned.items():
            setattr(d, k, v)
            setattr(deployment, k, v)
        d.save()
        _event(
            kind=DeploymentEvent.Kind.POLICY,
            component=component,
            environment=environment,
            deployment=d,
            build=d.build,
            actor=actor,
            schedule=d.schedule,
            timezone=d.timezone,
            message="Policies changed: " + ("; ".join(changes) if changes else "no change"),
        )
        return d

    return _recorded(
        work,
        kind=DeploymentEvent.Kind.POLICY,
        component=component,
        environment=environment,
        deployment=deployment,
        actor=actor,
        what="Policy change refused",
    )
