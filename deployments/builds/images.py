"""Image clean-up: delete the images of old builds nobody can need any more.

A succeeded build's image may go when all of these hold:
- no Deployment that is not undeployed (active or suspended, any environment) runs it, and no
  execution of it is pending or running;
- it is not among the last CHORUS_IMAGE_KEEP_BUILDS succeeded builds of its component;
- it finished more than CHORUS_IMAGE_KEEP_DAYS days ago;
- no build of the same commit is queued or running (that build will tag the same ref).

Two builds of one commit share one image ref (and local images are shared by identical
trees), so a ref is removed only when every build using it may go. A registry image
(`<repo>@sha256:…`, deployments/registry.py) is removed from the building engine by its image
id, from every environment's engine that pulled it (best effort), and its manifest is deleted
through the registry API; the registry's own garbage collection then frees the blobs. Each ref is removed through
the runtime that built it, never forced; the builds are marked (`image_removed_at`) and the
deploy services then refuse them with a clear message. A runtime that cannot be reached (a
Docker engine that is down) leaves its builds for the next run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from deployments.builds.services import build_environment
from deployments.models import Build, Deployment, Environment, Execution
from deployments.registry import RegistryError, is_registry_ref, registry_for_ref
from deployments.runtimes import runtime_for_build
from deployments.runtimes.base import ImageRemoveError, Runtime, RuntimeUnavailable

__all__ = ["ImageOutcome", "PruneSummary", "images_prune", "prunable_builds"]


@dataclass
class ImageOutcome:
    ref: str
    build_ids: list[int]
    runtime: str
    reason: str = ""

    def describe(self) -> str:
        builds = ", ".join(f"#{pk}" for pk in self.build_ids)
        text = f"{self.ref} ({self.runtime}; build {builds})"
        return f"{text}: {self.reason}" if self.reason else text


@dataclass
class PruneSummary:
    dry_run: bool
    # Removed (or, in a dry run, would be removed).
    removed: list[ImageOutcome] = field(default_factory=list)
    # Still used by a build that is kept (same commit built twice, identical local trees).
    shared: list[ImageOutcome] = field(default_factory=list)
    # The runtime refused (image in use) or could not be reached: tried again next time.
    left: list[ImageOutcome] = field(default_factory=list)

    @property
    def removed_builds(self) -> int:
        return sum(len(o.build_ids) for o in self.removed)

    def lines(self) -> list[str]:
        verb = "Would remove" if self.dry_run else "Removed"
        out = [f"{verb} {o.describe()}" for o in self.removed]
        out += [f"Kept (a kept build uses it) {o.describe()}" for o in self.shared]
        out += [f"Left for next time {o.describe()}" for o in self.left]
        out.append(
            f"{verb} {len(self.removed)} image(s) of {self.removed_builds} build(s); "
            f"{len(self.shared)} shared with kept builds; {len(self.left)} left for next time."
        )
        return out

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "removed": [o.ref for o in self.removed],
            "removed_builds": self.removed_builds,
            "shared": [o.ref for o in self.shared],
            "left": [o.describe() for o in self.left],
        }


def _protected_ids(*, now: datetime, keep_builds: int, keep_days: int) -> set[int]:
    """Succeeded builds whose image must stay (deployed, in use, among the newest, recent)."""
    succeeded = Build.objects.filter(status=Build.Status.SUCCEEDED)
    ids: set[int] = set(
        Deployment.objects.exclude(status=Deployment.Status.UNDEPLOYED).values_list(
            "build_id", flat=True
        )
    )
    ids |= set(
        Execution.objects.filter(status__in=Execution.ACTIVE, build__isnull=False).values_list(
            "build_id", flat=True
        )
    )
    # A finished_at of None (should not happen for a succeeded build) counts as recent.
    ids |= set(
        succeeded.filter(
            Q(finished_at__isnull=True) | Q(finished_at__gt=now - timedelta(days=keep_days))
        ).values_list("pk", flat=True)
    )
    if keep_builds:
        ranked = succeeded.annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("component_id")],
                order_by=[F("finished_at").desc(nulls_first=True), F("pk").desc()],
            )
        )
        ids |= set(ranked.filter(rank__lte=keep_builds).values_list("pk", flat=True))
    rebuilding = Build.objects.filter(status__in=Build.ACTIVE).values_list(
        "component_id", "commit_sha"
    )
    for component_id, sha in rebuilding:
        ids |= set(
            succeeded.filter(component_id=component_id, commit_sha=sha).values_list("pk", flat=True)
        )
    return ids


def prunable_builds(*, now: datetime | None = None) -> tuple[list[Build], set[str]]:
    """(builds whose image may go, oldest first; refs that builds which stay still use)."""
    now = now or timezone.now()
    keep_builds = settings.CHORUS_IMAGE_KEEP_BUILDS
    keep_days = settings.CHORUS_IMAGE_KEEP_DAYS
    protected = _protected_ids(now=now, keep_builds=keep_builds, keep_days=keep_days)
    with_image = Build.objects.filter(
        status=Build.Status.SUCCEEDED, image_removed_at__isnull=True
    ).exclude(image_ref="")
    candidates = list(
        with_image.exclude(pk__in=protected)
        .select_related("component__project")
        .order_by("finished_at", "pk")
    )
    kept_refs = set(with_image.filter(pk__in=protected).values_list("image_ref", flat=True))
    return candidates, kept_refs


def _claim(ref: str, build_ids: list[int], now: datetime) -> bool:
    """Mark the builds removed, unless something changed since the selection.

    The rows are locked; the deploy services lock the build row before checking it
    (rules.check_build), so a deploy of one of these builds either commits first (and is
    seen here) or sees the mark and refuses: a deployed build never loses its image.
    """
    with transaction.atomic():
        locked = list(
            Build.objects.select_for_update()
            .filter(pk__in=build_ids, image_removed_at__isnull=True)
            .values_list("pk", flat=True)
        )
        if sorted(locked) != sorted(build_ids):
            return False
        in_use = (
            Deployment.objects.filter(build_id__in=build_ids)
            .exclude(status=Deployment.Status.UNDEPLOYED)
            .exists()
            or Execution.objects.filter(
                build_id__in=build_ids, status__in=Execution.ACTIVE
            ).exists()
            or Build.objects.filter(image_ref=ref, image_removed_at__isnull=True)
            .exclude(pk__in=build_ids)
            .filter(Q(status=Build.Status.SUCCEEDED) | Q(status__in=Build.ACTIVE))
            .exists()
        )
        if in_use:
            return False
        Build.objects.filter(pk__in=build_ids).update(image_removed_at=now)
    return True


def images_prune(*, now: datetime | None = None, dry_run: bool = False) -> PruneSummary:
    """Remove the images of builds nobody can need any more (see the module docstring).

    Not one transaction: each ref is claimed, removed and kept marked (or unmarked on
    failure) on its own, so a slow or failing runtime never holds locks on other builds.
    """
    now = now or timezone.now()
    summary = PruneSummary(dry_run=dry_run)
    candidates, kept_refs = prunable_builds(now=now)
    by_ref: dict[str, list[Build]] = {}
    for build in candidates:
        by_ref.setdefault(build.image_ref, []).append(build)

    environment = build_environment()
    unreachable: dict[str, str] = {}  # runtime (repr) -> its "not reachable" message
    for ref, builds in by_ref.items():
        ids = [b.pk for b in builds]
        runtime: Runtime = runtime_for_build(builds[0], environment)
        outcome = ImageOutcome(ref=ref, build_ids=ids, runtime=runtime.kind)
        if ref in kept_refs:
            summary.shared.append(outcome)
            continue
        if dry_run:
            summary.removed.append(outcome)
            continue
        if repr(runtime) in unreachable:
            outcome.reason = unreachable[repr(runtime)]
            summary.left.append(outcome)
            continue
        if not _claim(ref, ids, now):
            outcome.reason = "deployed, run or rebuilt meanwhile"
            summary.shared.append(outcome)
            continue
        try:
            _remove(runtime, ref, builds[0])
        except BaseException as exc:
            # The image is still there: the builds stay deployable.
            Build.objects.filter(pk__in=ids, image_removed_at=now).update(image_removed_at=None)
            if not isinstance(exc, RuntimeUnavailable | ImageRemoveError | RegistryError):
                raise
            outcome.reason = str(exc)
            if isinstance(exc, RuntimeUnavailable):
                unreachable[repr(runtime)] = str(exc)
            summary.left.append(outcome)
            continue
        summary.removed.append(outcome)
    return summary


def _remove(runtime: Runtime, ref: str, build: Build) -> None:
    """Remove one image where it lives; raises (and it stays) when the building engine or the
    registry refuses or cannot be reached."""
    if not is_registry_ref(ref):
        runtime.remove_image(ref)
        return
    # By image id: the build's tag and digest reference go together.
    runtime.remove_image(build.image_digest or ref)
    registry = registry_for_ref(ref)
    if registry is not None:
        registry.delete(ref)
    # Engines of other environments pulled it: best effort, an engine that is down or still
    # has a stopped container of it keeps its copy (nothing can run it without the manifest).
    for environment in Environment.objects.exclude(docker_host=""):
        other = runtime_for_build(build, environment)
        if repr(other) == repr(runtime):
            continue
        try:
            other.remove_image(build.image_digest or ref)
        except (RuntimeUnavailable, ImageRemoveError):
            pass
