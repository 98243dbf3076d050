"""What people do to executions: run now (with a payload), cancel, re-run."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from deployments.executions.claims import end_pending
from deployments.executions.dispatch import dispatch_on_commit, new_task_id
from deployments.executions.snapshots import config_snapshot_exists
from deployments.models import Deployment, Execution
from deployments.payloads import payload_clean

Status = Execution.Status
Trigger = Execution.Trigger


def _check(*, actor, deployment: Deployment, action: str) -> None:
    from deployments.deploy.services.rules import check_environment_role

    check_environment_role(
        actor=actor,
        component=deployment.component,
        environment=deployment.environment,
        action=action,
    )


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def _start(
    *,
    deployment: Deployment,
    trigger: str,
    actor,
    build,
    payload,
    parent=None,
    config_revision=None,
):
    if not (build and (build.image_ref or build.image_digest)):
        raise ValidationError("There is no built image to run; build and deploy first.")
    now = timezone.now()
    for attempt in range(5):
        # Manual runs are keyed by the request time; two in the same microsecond shift by one.
        at = now + timedelta(microseconds=attempt)
        execution = Execution(
            deployment=deployment,
            scheduled_for=at,
            due_at=at,
            queued_at=now,
            attempt=1,
            trigger=trigger,
            status=Status.PENDING,
            build=build,
            image_ref=build.image_ref,
            image_digest=build.image_digest,
            config_revision=config_revision or deployment.config_revision,
            payload=payload,
            triggered_by=_user(actor),
            parent=parent,
            celery_task_id=new_task_id(),
        )
        try:
            with transaction.atomic():
                execution.save()
        except IntegrityError:
            continue
        dispatch_on_commit([(execution.pk, execution.celery_task_id, None)])
        return execution
    raise ValidationError("Could not queue the run; try again.")


@transaction.atomic
def execution_run_now(*, deployment: Deployment, actor, payload=None) -> Execution:
    """A manual run of what is deployed, now, with an optional JSON payload (CHORUS_PAYLOAD).

    The deployment's concurrency policy applies (Forbid skips it while a run is going); it runs
    even while the deployment is suspended (a test run), but not once it is undeployed.
    """
    _check(actor=actor, deployment=deployment, action="run tasks")
    deployment = Deployment.objects.select_related("build", "component", "environment").get(
        pk=deployment.pk
    )
    if deployment.status == Deployment.Status.UNDEPLOYED:
        raise ValidationError("This deployment is undeployed; deploy a build before running it.")
    return _start(
        deployment=deployment,
        trigger=Trigger.MANUAL,
        actor=actor,
        build=deployment.build,
        payload=payload_clean(payload),
    )


@transaction.atomic
def execution_rerun(*, execution: Execution, actor) -> Execution:
    """Run this exact image again (same build, same payload) as a new execution, with the
    configuration that run had when it is stored (snapshots.py), else the current one."""
    deployment = Deployment.objects.select_related("build", "component", "environment").get(
        pk=execution.deployment_id
    )
    _check(actor=actor, deployment=deployment, action="re-run tasks")
    if deployment.status == Deployment.Status.UNDEPLOYED:
        raise ValidationError("This deployment is undeployed; deploy it again to run it.")
    if not execution.is_finished:
        raise ValidationError("This execution has not finished yet; cancel it or wait.")
    build = execution.build
    if build is None or not (execution.image_ref or build.image_ref):
        raise ValidationError("The image this execution ran is not known any more.")
    from deployments.deploy.services.rules import check_image_present

    check_image_present(build=build)
    rerun = _start(
        deployment=deployment,
        trigger=Trigger.RERUN,
        actor=actor,
        build=build,
        payload=execution.payload,
        parent=execution,
        config_revision=execution.config_revision
        if config_snapshot_exists(deployment_id=deployment.pk, revision=execution.config_revision)
        else None,
    )
    if execution.image_ref and rerun.image_ref != execution.image_ref:
        Execution.objects.filter(pk=rerun.pk).update(
            image_ref=execution.image_ref, image_digest=execution.image_digest
        )
        rerun.image_ref, rerun.image_digest = execution.image_ref, execution.image_digest
    return rerun


def execution_cancel(*, execution: Execution, actor) -> Execution:
    """Cancel a pending execution at once, or ask the worker running it to stop (within ~2 s).

    When the worker is gone (stale heartbeat) the execution is finished here and its container
    stopped, so a cancel always ends it.
    """
    deployment = Deployment.objects.select_related("component", "environment").get(
        pk=execution.deployment_id
    )
    _check(actor=actor, deployment=deployment, action="cancel runs")
    who = getattr(_user(actor), "username", "") or "Chorus"
    execution.refresh_from_db()
    if execution.status == Status.PENDING:
        if end_pending(
            execution, status=Status.CANCELLED, reason=f"cancelled by {who} before it started"
        ):
            return execution
        execution.refresh_from_db()
    if execution.status != Status.RUNNING:
        raise ValidationError(
            f"Execution #{execution.pk} is already {execution.get_status_display().lower()}."
        )
    Execution.objects.filter(pk=execution.pk, status=Status.RUNNING).update(
        cancel_requested=True, reason=f"cancelled by {who}"
    )
    from deployments.executions.reconcile import reconcile_execution, worker_gone

    execution.refresh_from_db()
    if execution.status == Status.RUNNING and worker_gone(execution):
        reconcile_execution(execution, cancelled=True)
        execution.refresh_from_db()
    return execution
