"""Deploy, promote and roll back: the build and schedule a deployment runs."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.timezone import now as _now

from components.manifest.config import config_defaults
from components.models import Component
from deployments.deploy.selectors import live_deployment
from deployments.deploy.services import events
from deployments.deploy.services.beat import sync_periodic_task
from deployments.deploy.services.contract import check_required, config_apply
from deployments.deploy.services.events import recorded
from deployments.deploy.services.pulls import check_registry_image, pull_ahead_on_commit
from deployments.deploy.services.repository import (
    Declared,
    declared_for,
    locked_by,
    mark_managed,
    settings_for_change,
)
from deployments.deploy.services.rules import (
    POLICY_FIELDS,
    POLICY_LABELS,
    build_ran_in,
    check_build,
    check_environment_role,
    check_production_gate,
    image_label,
    policies_clean,
)
from deployments.models import Build, Deployment, DeploymentEvent, Environment
from deployments.payloads import KEEP, payload_clean, payload_words
from deployments.schedules.parsing import (
    check_schedule_in_zone,
    parse_schedule,
    schedule_seed,
)
from deployments.schedules.schedule import Schedule
from deployments.schedules.timezones import validate_timezone


def _describe_deploy(build: Build, schedule: Schedule, tz: str) -> str:
    return (
        f"build #{build.pk} ({image_label(build)}, commit {build.short_sha}) on "
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
    payload=KEEP,
    managed: Declared | None = None,
) -> Deployment:
    sched = parse_schedule(
        schedule, schedule_seed(component.project.slug, component.name, environment.slug)
    )
    tz = validate_timezone(timezone)
    check_build(component=component, build=build)
    check_production_gate(component=component, build=build, environment=environment)
    check_required(component=component, environment=environment, build=build)
    current = (
        Deployment.objects.filter(component=component, environment=environment)
        .exclude(status=Deployment.Status.UNDEPLOYED)
        .values_list("build_id", flat=True)
        .first()
    )
    if current != build.pk:
        # A new image for this environment: it must still be in the registry. A schedule or
        # policy change of the running build does not depend on the registry.
        check_registry_image(build=build)
    cleaned = policies_clean(policies, environment=environment)

    deployment = (
        Deployment.objects.select_for_update()
        .filter(component=component, environment=environment)
        .first()
    )
    # A one-off time must lie ahead, unless it is the deployment's own, unchanged (done) one.
    unchanged = (
        deployment is not None
        and deployment.status != Deployment.Status.UNDEPLOYED
        and (deployment.schedule, deployment.timezone) == (sched.expr, tz)
    )
    check_schedule_in_zone(sched, tz, now=_now(), allow_past=unchanged)
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
                    payload=None if payload is KEEP else payload,
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
        if payload is not KEEP and payload != deployment.payload:
            changes.append(
                f"payload {payload_words(deployment.payload)} → {payload_words(payload)}"
            )
            deployment.payload = payload
        changes += [
            f"{POLICY_LABELS[k]} {getattr(deployment, k)} → {v}"
            for k, v in cleaned.items()
            if getattr(deployment, k) != v
        ]
        was_undeployed = deployment.status == Deployment.Status.UNDEPLOYED
        if deployment.build_id != build.pk and config_defaults(
            deployment.build.manifest
        ) != config_defaults(build.manifest):
            # The runs' environment changes with the declared defaults: a new config revision,
            # so a re-run of an earlier run still gets the configuration that run had.
            deployment.config_revision += 1
            changes.append("declared defaults changed")
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
    sync_periodic_task(deployment, sched)
    pull_ahead_on_commit(deployment)
    if managed is not None:
        mark_managed(deployment, managed)
    message = f"{verb} {_describe_deploy(build, sched, tz)}"
    if deployment.status == Deployment.Status.SUSPENDED:
        message += "; the deployment stays suspended until resumed"
    if changes:
        message += f" ({'; '.join(changes)})"
    events.record_event(
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
    timezone: str | None = "UTC",
    actor,
    policies: dict | None = None,
    payload=KEEP,
    config: dict[str, str] | None = None,
) -> Deployment:
    """Deploy `build` to `environment` on `schedule`: the Deployment and its PeriodicTask.

    For a component managed by the repository, the fields chorus.toml sets (schedules as
    code) come from the file: left out they take its value, a different value is refused.

    `payload` (JSON data or text, None to clear) is what every scheduled run gets in
    CHORUS_PAYLOAD; by default the deployment keeps the one it has. `config` ({key: value})
    is set in the environment first, in the same transaction; the deploy is refused while a
    key the build's chorus.toml declares required has no value there."""

    def work() -> Deployment:
        check_environment_role(
            actor=actor, component=component, environment=environment, action="deploy"
        )
        # A deployment's fields set by chorus.toml stay; a first deploy (or one not marked
        # yet) of a managed component takes the deployed build's file.
        locked = locked_by(live_deployment(component=component, environment=environment))
        declared = None if locked else declared_for(build=build, environment=environment)
        sched, tz, cleaned = settings_for_change(
            environment=environment,
            locked=locked or declared,
            schedule=schedule,
            timezone=timezone,
            policies=policies,
        )
        config_apply(
            component=component, environment=environment, build=build, values=config, actor=actor
        )
        return _upsert(
            component=component,
            environment=environment,
            build=build,
            schedule=sched or schedule,
            timezone=tz or timezone or "UTC",
            actor=actor,
            policies=cleaned,
            kind=DeploymentEvent.Kind.DEPLOY,
            verb="Deployed",
            payload=payload if payload is KEEP else payload_clean(payload),
            managed=declared,
        )

    return recorded(
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


def deployment_promote(
    *,
    component: Component,
    source_env: Environment,
    target_env: Environment,
    actor,
    schedule: str | None = None,
    timezone: str | None = None,
    policies: dict | None = None,
    payload=KEEP,
    config: dict[str, str] | None = None,
) -> Deployment:
    """Deploy the exact build running in `source_env` to `target_env`.

    The build must have succeeded at least once in the source deployment. The schedule,
    timezone and payload default to the target's current ones (or the source's for a first
    promotion). Configuration is never copied between environments: `config` is set in the
    target first, and the promotion is refused while a key the build declares required has no
    value in the target.
    """
    source = live_deployment(component=component, environment=source_env)

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
                f"Build #{build.pk} ({image_label(build)}) has not run successfully in "
                f"{source_env.name} yet. Production only runs an image that ran in "
                f"{source_env.name} first: wait for a scheduled run or use Run now, then promote."
            )
        config_apply(
            component=component, environment=target_env, build=build, values=config, actor=actor
        )
        target = live_deployment(component=component, environment=target_env)
        # Schedules as code: the promoted build's chorus.toml sets the target's fields.
        declared = declared_for(build=build, environment=target_env)
        requested, zone, cleaned = settings_for_change(
            environment=target_env,
            locked=declared if declared is not None else locked_by(target),
            schedule=schedule,
            timezone=timezone,
            policies=policies,
        )
        sched = requested or (target.schedule if target else source.schedule)
        tz = zone or (target.timezone if target else source.timezone)
        if payload is KEEP:
            data = target.payload if target else source.payload
        else:
            data = payload_clean(payload)
        return _upsert(
            component=component,
            environment=target_env,
            build=build,
            schedule=sched,
            timezone=tz,
            actor=actor,
            policies=cleaned,
            kind=DeploymentEvent.Kind.PROMOTE,
            verb=f"Promoted from {source_env.name}{_from_file(declared)}:",
            copy_policies_from=source,
            payload=data,
            managed=declared,
        )

    return recorded(
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

    return recorded(
        work,
        kind=DeploymentEvent.Kind.ROLLBACK,
        component=component,
        environment=environment,
        deployment=deployment,
        build=build,
        actor=actor,
        what=f"Rollback to build #{build.pk} refused",
    )


# --- schedules as code ----------------------------------------------------------------------
def _from_file(declared: Declared | None) -> str:
    if declared is None or not declared.fields:
        return ""
    return f" with the settings of chorus.toml at {declared.commit[:12]}"


def deployment_apply_repository(*, build: Build) -> tuple[Deployment | None, str]:
    """Apply `build`'s chorus.toml to the first environment's (Development's) deployment.

    Called when a build of a managed component succeeds. Keeps the deployed build; sets the
    schedule, timezone and policies the file declares, through the same checks, deploy log and
    beat sync as a user's change (a refusal is recorded and raised). Returns the deployment (or
    None) and a sentence for the build log.
    """
    component = build.component
    environment = Environment.objects.order_by("order").first()
    if environment is None or not component.managed_by_repository:
        return None, ""
    declared = declared_for(build=build, environment=environment)
    newer = Build.objects.filter(
        component=component, status=Build.Status.SUCCEEDED, pk__gt=build.pk
    ).exists()
    if newer:
        return None, f"a newer build's chorus.toml already applies to {environment.name}"
    deployment = live_deployment(component=component, environment=environment)
    if deployment is None:
        return None, f"nothing is deployed in {environment.name} yet; a deploy takes the file's"
    current = {
        "schedule": deployment.schedule,
        "timezone": deployment.timezone,
        **{k: getattr(deployment, k) for k in declared.policies},
    }
    if all(current[n] == declared.value(n) for n in declared.fields):
        with transaction.atomic():
            mark_managed(deployment, declared)
        if not declared.fields:
            return deployment, f"it declares nothing for {environment.name}"
        return deployment, f"{environment.name} already runs the file's settings"

    def work() -> Deployment:
        return _upsert(
            component=component,
            environment=environment,
            build=deployment.build,
            schedule=declared.schedule or deployment.schedule,
            timezone=declared.timezone or deployment.timezone,
            actor=None,
            policies=declared.policies,
            kind=DeploymentEvent.Kind.DEPLOY,
            verb=f"Applied chorus.toml at {build.short_sha} (build #{build.pk}):",
            managed=declared,
        )

    done = recorded(
        work,
        kind=DeploymentEvent.Kind.SCHEDULE,
        component=component,
        environment=environment,
        deployment=deployment,
        build=deployment.build,
        schedule=declared.schedule or "",
        timezone=declared.timezone or "",
        what=f"chorus.toml at {build.short_sha} not applied to {environment.name}",
    )
    return done, f"applied to {environment.name}: {', '.join(declared.fields)}"
