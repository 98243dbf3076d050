"""The task of deploy: pull a deployment's image ahead of its runs (deploy/services/pulls.py).

Sent to the environment's own queue (deployments.environments.queue_for), so the worker next
to that environment's engine pulls it.
"""

from __future__ import annotations

from celery import shared_task

__all__ = ["image_pull_task"]


@shared_task(
    name="chorus.image.pull",
    queue="executions",
    soft_time_limit=1500,
    time_limit=1800,
    ignore_result=True,
)
def image_pull_task(deployment_id: int) -> str:
    from deployments.deploy.services.pulls import deployment_image_pull

    event = deployment_image_pull(deployment_id=deployment_id)
    return event.outcome if event else "present"
