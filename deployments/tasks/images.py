"""The daily image clean-up: a thin wrapper around deployments.services.images.images_prune.

Scheduled in CELERY_BEAT_SCHEDULE (portal/settings.py); `manage.py chorus_prune_images` runs
the same service by hand.
"""

from __future__ import annotations

from celery import shared_task

__all__ = ["images_prune_task"]


@shared_task(
    name="chorus.images.prune",
    queue="chorus",
    # Removing images is quick; an engine that hangs is cut off by its own API timeout first.
    soft_time_limit=1500,
    time_limit=1800,
    ignore_result=True,
)
def images_prune_task() -> dict:
    from ..services.images import images_prune

    return images_prune().as_dict()
