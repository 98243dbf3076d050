"""The tasks of builds: thin wrappers around their services.

- chorus.build.run (deployments.builds.execute.build_execute) runs on the "builds" queue. A worker that also serves other queues still runs at most
CHORUS_MAX_CONCURRENT_BUILDS builds at once: build_execute holds a per-machine slot, and when
none is free the task retries a few seconds later instead of blocking a worker process.
- chorus.images.prune (deployments.builds.images.images_prune), the daily image clean-up,
  scheduled in portal/settings.py; `manage.py chorus_prune_images` runs the same service.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from deployments.builds.execute import BuildSlotsBusy, build_execute

__all__ = ["build_run", "images_prune_task"]

SLOT_RETRY_SECONDS = 3


@shared_task(
    name="chorus.build.run",
    queue="builds",
    bind=True,
    acks_late=True,
    ignore_result=True,
    max_retries=None,
    # build_execute stops the build itself at CHORUS_BUILD_TIMEOUT; these are the backstops.
    soft_time_limit=settings.CHORUS_BUILD_TIMEOUT + 60,
    time_limit=settings.CHORUS_BUILD_TIMEOUT + 120,
)
def build_run(self, build_id: int) -> None:
    try:
        build_execute(build_id=build_id)
    except BuildSlotsBusy:
        raise self.retry(countdown=SLOT_RETRY_SECONDS) from None


@shared_task(
    name="chorus.images.prune",
    queue="chorus",
    # Removing images is quick; an engine that hangs is cut off by its own API timeout first.
    soft_time_limit=1500,
    time_limit=1800,
    ignore_result=True,
)
def images_prune_task() -> dict:
    from deployments.builds.images import images_prune

    return images_prune().as_dict()
