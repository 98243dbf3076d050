"""The build task: a thin wrapper around deployments.services.builds.build_execute.

It runs on the "builds" queue. A worker that also serves other queues still runs at most
CHORUS_MAX_CONCURRENT_BUILDS builds at once: build_execute holds a per-machine slot, and when
none is free the task retries a few seconds later instead of blocking a worker process.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from ..services.builds import BuildSlotsBusy, build_execute

__all__ = ["build_run"]

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
