"""Builds: queue one commit of a component, cancel it, finish it; the image's names.

`build_queue` resolves the branch to a commit when the user presses Build (so the build is
of what they saw), and reuses an active build of that commit: the partial unique constraint
`build_one_active_per_commit` makes that race-free. The worker side, which runs a queued
build to its end, is deployments.builds.execute; `build_finish` is the one way a running
build ends (its last log line, then its final status).
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from components.models import Component
from components.sources import SourceError, source_resolve
from deployments.logs import LogWriter
from deployments.models import Build, BuildLogLine, Environment
from deployments.registry import Registry
from portal.roles import Role
from portal.selectors import require_role

logger = logging.getLogger(__name__)

# A running build older than its timeout plus this margin has lost its worker.
STALE_MARGIN = timedelta(minutes=5)


# --- helpers ------------------------------------------------------------------------------
def name_part(part: str) -> str:
    """One part of an image name, reduced to what Docker accepts."""
    part = re.sub(r"[^a-z0-9._-]+", "-", part.lower()).strip("._-")
    return part or "x"


def image_repository(build: Build, registry: Registry | None = None) -> str:
    """<registry>/<project>/<component> with a registry, else chorus/<project>/<component>,
    reduced to what Docker accepts."""
    component = build.component
    if registry is not None:
        return registry.repository(project=component.project.slug, component=component.name)
    return f"chorus/{name_part(component.project.slug)}/{name_part(component.name)}"


def image_tag(build: Build, registry: Registry | None = None) -> str:
    """The human name of a build's image: <repository>:<short-sha>. Runs never use it."""
    return f"{image_repository(build, registry)}:{name_part(build.short_sha)}"


def build_environment() -> Environment | None:
    """Builds use the runtime of the first environment on the promotion path (Development):
    the artifact is made where it first runs, then promoted as is."""
    return Environment.objects.order_by("order").first()


def log_writer(build: Build) -> LogWriter:
    return LogWriter(owner=build, line_model=BuildLogLine, fk_name="build")


# --- queue / cancel -----------------------------------------------------------------------
def build_queue(*, component: Component, actor, trigger: str = Build.Trigger.USER) -> Build:
    """Queue a build of the commit the component's branch points at now.

    Returns the new build, or the active (queued/running) build of the same commit, which is
    reused instead of queueing a second one; `build.reused` tells which.
    """
    if actor is not None:
        require_role(user=actor, project=component.project, min_role=Role.DEVELOPER)
    # Resolving talks to the repository: outside the transaction, so no row lock waits on it.
    try:
        resolved = source_resolve(component=component)
    except SourceError as exc:
        raise ValidationError(str(exc)) from exc
    return _build_create(
        component=component,
        sha=resolved.sha,
        message=resolved.message,
        actor=actor,
        trigger=trigger,
    )


@transaction.atomic
def _build_create(*, component: Component, sha: str, message: str, actor, trigger: str) -> Build:
    active = Build.objects.filter(
        component=component, commit_sha=sha, status__in=Build.ACTIVE
    ).first()
    if active is not None:
        active.reused = True
        return active
    try:
        with transaction.atomic():
            build = Build.objects.create(
                component=component,
                commit_sha=sha,
                ref=component.branch,
                commit_message=(message or "")[:300],
                preset=component.preset,
                trigger=trigger,
                triggered_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
    except IntegrityError:
        # Another click won the race for the same commit: use its build.
        active = Build.objects.get(component=component, commit_sha=sha, status__in=Build.ACTIVE)
        active.reused = True
        return active
    build.reused = False
    build_id = build.pk

    def enqueue() -> None:
        from deployments.builds.tasks import build_run

        result = build_run.delay(build_id)
        Build.objects.filter(pk=build_id).update(celery_task_id=result.id or "")

    transaction.on_commit(enqueue)
    return build


@transaction.atomic
def build_cancel(*, build: Build, actor) -> Build:
    """Cancel a queued build at once; ask the worker to stop a running one (it does within
    about a second)."""
    if actor is not None:
        require_role(user=actor, project=build.component.project, min_role=Role.DEVELOPER)
    who = getattr(actor, "username", "") or "Chorus"
    now = timezone.now()
    if Build.objects.filter(pk=build.pk, status=Build.Status.QUEUED).update(
        status=Build.Status.CANCELLED,
        cancel_requested=True,
        finished_at=now,
        error=f"Cancelled by {who} before it started.",
    ):
        # The worker can no longer claim it, so nobody else writes this log.
        build.refresh_from_db()
        log_writer(build).final(f"Build cancelled by {who} before it started.")
    elif not Build.objects.filter(pk=build.pk, status=Build.Status.RUNNING).update(
        cancel_requested=True, error=f"Cancelled by {who}."
    ):
        raise ValidationError("This build has already finished.")
    build.refresh_from_db()
    return build


def builds_fail_stale(*, now=None) -> int:
    """Fail running builds whose worker is gone (older than the build timeout plus a margin).

    Called at the start of every build and available to the reconciler.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.CHORUS_BUILD_TIMEOUT) - STALE_MARGIN
    failed = 0
    for build in Build.objects.filter(status=Build.Status.RUNNING, started_at__lt=cutoff):
        failed += build_finish(
            build,
            log_writer(build),
            status=Build.Status.FAILED,
            error="The worker running this build stopped before it finished. Build again.",
        )
    return failed


def build_finish(build: Build, log: LogWriter, *, status: str, error: str = "", **fields) -> int:
    """Write the last log line, then the final status (in that order, so a live view that
    sees the final status has every line). Only a running build is finished."""
    if status == Build.Status.SUCCEEDED:
        ref, digest = fields.get("image_ref", ""), fields.get("image_digest", "")
        last = f"Build succeeded: {ref}" + (f" ({digest})" if digest != ref else "")
    elif status == Build.Status.CANCELLED:
        last = f"Build cancelled: {error}"
    else:
        last = f"Build failed: {error}"
    try:
        log.final(last)
    except Exception:  # noqa: BLE001 - the status below matters more than the line
        logger.exception("build %s: cannot write the final log line", build.pk)
    return Build.objects.filter(pk=build.pk, status=Build.Status.RUNNING).update(
        status=status, error=error[:2000], finished_at=timezone.now(), **fields
    )
