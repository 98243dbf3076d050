"""The deployment's django-celery-beat PeriodicTask, kept in step with the Deployment row."""

from __future__ import annotations

import json

from deployments.models import Deployment
from deployments.schedules.beat import to_beat_schedule
from deployments.schedules.schedule import Schedule

TICK_TASK = "chorus.execution.tick"
TICK_QUEUE = "executions"


def periodic_task_name(deployment: Deployment) -> str:
    return f"chorus:deployment:{deployment.pk}"


def sync_periodic_task(deployment: Deployment, schedule: Schedule) -> None:
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
    kind = "clocked" if schedule.is_once else "interval" if schedule.is_interval else "crontab"
    schedule_changed = task.pk is None or getattr(task, f"{kind}_id") != beat_schedule.pk
    task.task = TICK_TASK
    task.kwargs = json.dumps({"deployment_id": deployment.pk})
    task.args = "[]"
    task.queue = TICK_QUEUE
    task.crontab = beat_schedule if kind == "crontab" else None
    task.interval = beat_schedule if kind == "interval" else None
    task.clocked = beat_schedule if kind == "clocked" else None
    task.one_off = kind == "clocked"  # django-celery-beat requires it of a clocked task
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


def delete_periodic_task(deployment: Deployment) -> None:
    from django_celery_beat.models import PeriodicTask

    task = deployment.periodic_task
    deployment.periodic_task = None
    deployment.save(update_fields=["periodic_task", "updated_at"])
    if task is not None:
        task.delete()  # model delete: bumps PeriodicTasks so beat drops it at once
    for stray in PeriodicTask.objects.filter(name=periodic_task_name(deployment)):
        stray.delete()
