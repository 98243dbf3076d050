"""Suspend, resume, undeploy and policy changes of an existing deployment."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from deployments.deploy.services import events
from deployments.deploy.services.beat import delete_periodic_task, sync_periodic_task
from deployments.deploy.services.events import recorded
from deployments.deploy.services.repository import locked_by, settings_for_change
from deployments.deploy.services.rules import POLICY_LABELS, check_environment_role, policies_clean
from deployments.models import Deployment, DeploymentEvent


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
            delete_periodic_task(d)
            message = (
                f"Undeployed build #{d.build_id}: its schedule is removed; "
                "executions and history are kept"
            )
        else:
            # Re-save the PeriodicTask (still enabled) so beat reloads promptly either way.
            sync_periodic_task(d, d.parsed_schedule())
            message = (
                "Suspended: ticks are recorded as skipped until resumed"
                if to == Deployment.Status.SUSPENDED
                else "Resumed: scheduled runs start again at the next tick"
            )
        events.record_event(
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

    return recorded(
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
        _, _, policies_in = settings_for_change(
            environment=environment,
            locked=locked_by(d),
            schedule=None,
            timezone=None,
            policies=policies,
        )
        cleaned = policies_clean(policies_in, environment=environment)
        changes = [
            f"{POLICY_LABELS[k]} {getattr(d, k)} → {v}"
            for k, v in cleaned.items()
            if getattr(d, k) != v
        ]
        for k, v in cleaned.items():
            setattr(d, k, v)
            setattr(deployment, k, v)
        d.save()
        events.record_event(
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

    return recorded(
        work,
        kind=DeploymentEvent.Kind.POLICY,
        component=component,
        environment=environment,
        deployment=deployment,
        actor=actor,
        what="Policy change refused",
    )
