"""Builds, the worker side: claim a queued build, fetch, build, push, finish.

`build_execute` runs on a worker of the "builds" queue (deployments.builds.tasks). Every way a
build can end (missing Dockerfile, Dockerfile error, failing pip install, unreachable
repository, engine down, registry refusing the push, timeout, cancel, a crash in Chorus
itself) leaves it failed or cancelled with the reason as the last log line and in `error`,
never "running".

Concurrency: at most settings.CHORUS_MAX_CONCURRENT_BUILDS builds run at once per machine
(per CHORUS_BUILD_DIR). Slots are flock()ed files, so a slot is freed by the kernel even when
a worker process is killed; a build that finds no free slot stays queued and its task retries
a few seconds later, without holding a worker process.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from components.manifest import MANIFEST_FILE, Manifest, ManifestError, read_manifest
from components.models import Component
from components.sources import SourceError, source_fetch
from deployments.builds.dockerfiles import declares_arg, render_dockerfile
from deployments.builds.services import (
    build_environment,
    build_finish,
    builds_fail_stale,
    image_repository,
    image_tag,
    log_writer,
    name_part,
)
from deployments.logs import LogWriter
from deployments.models import Build
from deployments.registry import Registry, RegistryError, registry_from_settings
from deployments.runtimes import get_runtime
from deployments.runtimes.base import (
    BuildCancelled,
    BuildError,
    BuildTimedOut,
    BuiltImage,
    ImagePullError,
    Limits,
    Runtime,
    RuntimeUnavailable,
)

logger = logging.getLogger(__name__)


class BuildSlotsBusy(Exception):
    """All build slots of this machine are taken; try again in a moment."""


@contextlib.contextmanager
def build_slot() -> Iterator[int]:
    """Hold one of CHORUS_MAX_CONCURRENT_BUILDS slots; raise BuildSlotsBusy if none is free."""
    slots = max(1, int(settings.CHORUS_MAX_CONCURRENT_BUILDS))
    directory = Path(settings.CHORUS_BUILD_DIR) / ".slots"
    directory.mkdir(parents=True, exist_ok=True)
    for number in range(slots):
        handle = (directory / f"slot-{number}.lock").open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        try:
            yield number
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
        return
    raise BuildSlotsBusy(f"All {slots} build slot(s) of this machine are busy")


def build_execute(*, build_id: int) -> str:
    """Run a queued build to its end. Returns the build's final status.

    Raises BuildSlotsBusy (before claiming) when this machine already runs its maximum.
    """
    build = Build.objects.select_related("component__project").filter(pk=build_id).first()
    if build is None:
        return "missing"
    builds_fail_stale()
    build.refresh_from_db()
    if build.status == Build.Status.RUNNING:
        # Only a redelivered message finds its build running: the worker that claimed it died.
        build_finish(
            build,
            log_writer(build),
            status=Build.Status.FAILED,
            error="The worker running this build stopped before it finished. Build again.",
        )
        return Build.Status.FAILED
    if build.status != Build.Status.QUEUED:
        return build.status
    with build_slot():
        started = timezone.now()
        if not Build.objects.filter(pk=build.pk, status=Build.Status.QUEUED).update(
            status=Build.Status.RUNNING, started_at=started
        ):
            build.refresh_from_db()
            return build.status  # cancelled meanwhile
        build.refresh_from_db()
        log = log_writer(build)
        try:
            _execute(build, log)
        except BuildCancelled:
            reason = (
                Build.objects.filter(pk=build.pk).values_list("error", flat=True).first()
                or "Cancelled."
            )
            build_finish(build, log, status=Build.Status.CANCELLED, error=reason)
        except BuildTimedOut:
            build_finish(
                build,
                log,
                status=Build.Status.FAILED,
                error=f"The build took longer than {settings.CHORUS_BUILD_TIMEOUT} seconds "
                "(CHORUS_BUILD_TIMEOUT) and was stopped.",
            )
        except (
            BuildError,
            ImagePullError,
            RegistryError,
            RuntimeUnavailable,
            SourceError,
            ValidationError,
        ) as exc:
            message = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            build_finish(build, log, status=Build.Status.FAILED, error=message)
        except BaseException as exc:
            from celery.exceptions import SoftTimeLimitExceeded

            if isinstance(exc, SoftTimeLimitExceeded):
                error = f"The build took longer than {settings.CHORUS_BUILD_TIMEOUT} seconds and was stopped."
            else:
                logger.exception("build %s crashed", build.pk)
                error = f"Chorus failed while building ({type(exc).__name__}: {exc}). This is a bug; the server log has details."
            build_finish(build, log, status=Build.Status.FAILED, error=error)
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt / SystemExit: the build is marked, now let go
        build.refresh_from_db()
        return build.status


def _execute(build: Build, log: LogWriter) -> None:
    component = build.component
    deadline = time.monotonic() + settings.CHORUS_BUILD_TIMEOUT
    trigger = build.get_trigger_display().lower()
    who = f" by {build.triggered_by.username}" if build.triggered_by_id else ""
    log(f"Build #{build.pk} of {component} at {build.commit_sha} ({trigger}{who})", "chorus")

    runtime = get_runtime(build_environment())
    _check(runtime)
    Build.objects.filter(pk=build.pk).update(runtime_kind=runtime.kind)
    log(f"Runtime: {runtime.kind} ({runtime!r})", "chorus")
    if getattr(runtime, "fallback_reason", ""):
        log(f"{runtime.fallback_reason} Building with the local runtime instead.", "chorus")
    # Docker images go to the registry when there is one; local images stay on this machine.
    registry = registry_from_settings() if runtime.kind == "docker" else None
    if registry is not None:
        log(
            f"Registry: {registry.location} (the image is pushed; runs pull it by digest)", "chorus"
        )
        registry.check()  # down or refusing the credentials: fail now, not after the build

    last_check = [0.0, False]

    def cancelled() -> bool:
        # Runtimes poll this about once a second, also while the build prints nothing: the
        # moment to make buffered lines visible to the live view, and to read the flag.
        if time.monotonic() - last_check[0] >= 1.0:
            last_check[0] = time.monotonic()
            log.flush()
            last_check[1] = bool(
                Build.objects.filter(pk=build.pk).values_list("cancel_requested", flat=True).first()
            )
        return last_check[1]

    workdir = Path(settings.CHORUS_BUILD_DIR) / str(build.pk)
    shutil.rmtree(workdir, ignore_errors=True)
    try:
        source_dir = source_fetch(
            component=component, sha=build.commit_sha, dest=workdir / "src", log=log
        )
        if cancelled():
            raise BuildCancelled("Cancelled.")
        manifest = _manifest(build, source_dir, log)
        dockerfile = source_dir / "Dockerfile"
        if build.preset == Component.Preset.PYTHON:
            text = render_dockerfile(component, source_dir)
            if dockerfile.exists():
                log("The Python preset replaces the Dockerfile found in the source.", "chorus")
            dockerfile.unlink(missing_ok=True)  # a link (inside the checkout) is replaced
            dockerfile.write_text(text)
            log("Generated Dockerfile (Python preset):", "chorus")
            for line in text.splitlines():
                log(f"  {line}", "chorus")
        elif not dockerfile.is_file():
            where = f"“{component.path}”" if component.path else "the root of the repository"
            raise BuildError(
                f"No Dockerfile in {where} at commit {build.short_sha}. Add one, or switch the "
                "component to the Python preset."
            )
        else:
            text = dockerfile.read_text(errors="replace")
        build_args = {}
        if declares_arg(text, "BASE_IMAGE"):
            build_args["BASE_IMAGE"] = settings.CHORUS_PYTHON_BASE_IMAGE
            log(f"Base image: {settings.CHORUS_PYTHON_BASE_IMAGE} (build-arg BASE_IMAGE)", "chorus")
        tag = image_tag(build, registry)
        remaining = max(deadline - time.monotonic(), 1.0)
        try:
            image = runtime.build(
                source_dir=source_dir,
                tag=tag,
                log=log,
                build_args=build_args,
                cancel=cancelled,
                timeout=remaining,
                limits=Limits(
                    memory_mb=settings.CHORUS_BUILD_MEMORY_MB, cpus=settings.CHORUS_BUILD_CPUS
                ),
            )
        except BuildError as exc:
            raise _explain_missing_base(exc, runtime, build_args.get("BASE_IMAGE")) from exc
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if registry is not None:
        image = _push(build, runtime, image, registry, log)
    build.manifest = manifest.to_json() if manifest else {}
    Build.objects.filter(pk=build.pk).update(manifest=build.manifest)
    _apply_repository(build, log)
    build_finish(
        build,
        log,
        status=Build.Status.SUCCEEDED,
        image_ref=image.ref,
        image_digest=image.digest,
    )


def _manifest(build: Build, source_dir: Path, log: LogWriter) -> Manifest | None:
    """The checkout's chorus.toml, validated; an invalid one fails the build with its line."""
    try:
        manifest = read_manifest(source_dir)
    except ManifestError as exc:
        raise BuildError(f"{exc}. Fix the file and push again; nothing deployed changed.") from exc
    if manifest is not None:
        parts = [f"{len(manifest.config)} setting(s) declared"]
        if manifest.environments:
            parts.append("schedules for " + ", ".join(sorted(manifest.environments)))
        log(f"{MANIFEST_FILE}: " + "; ".join(parts), "chorus")
    return manifest


def _apply_repository(build: Build, log: LogWriter) -> None:
    """Schedules as code: a managed component's Development takes this commit's settings.

    A refusal (say, the deployed image was cleaned up) is logged here and in the deploy log;
    the build itself succeeded, so it does not fail for it."""
    if not build.component.managed_by_repository:
        return
    from django.core.exceptions import PermissionDenied

    from deployments.deploy.services.events import error_text
    from deployments.deploy.services.lifecycle import deployment_apply_repository

    try:
        _, what = deployment_apply_repository(build=build)
    except (ValidationError, PermissionDenied) as exc:
        log(f"{MANIFEST_FILE} not applied: {error_text(exc)}", "chorus")
        return
    if what:
        log(f"{MANIFEST_FILE} (managed by the repository): {what}", "chorus")


def _explain_missing_base(exc: BuildError, runtime: Runtime, base: str | None) -> BuildError:
    """A failed build whose BASE_IMAGE the engine still lacks could not pull it: say so in
    words and name the two ways out, instead of only the engine's registry error."""
    if not base or getattr(runtime, "kind", "") != "docker":
        return exc
    import docker.errors

    try:
        client = runtime.client()
        try:
            client.images.get(base)
            return exc  # the base is there: the build failed for another reason
        finally:
            client.close()
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.DockerException:
        return exc  # the engine cannot tell: keep its own message
    return BuildError(
        f"The base image {base} is not on this Docker engine and could not be pulled ({exc}). "
        f"Set CHORUS_PYTHON_BASE_IMAGE to an image the engine has or can pull, or build the "
        f"offline base images with `python manage.py build_base_images` and set "
        f"CHORUS_PYTHON_BASE_IMAGE=chorus/python:3-debian."
    )


def _push(
    build: Build, runtime: Runtime, image: BuiltImage, registry: Registry, log: LogWriter
) -> BuiltImage:
    """Push the built image; from now on it is `<repository>@<repository digest>`.

    A failure (registry down, credentials refused) raises, and the build fails saying so:
    nothing about a pushed image is recorded until the registry gave its digest."""
    repository = image_repository(build, registry)
    digest = runtime.push(
        image_id=image.ref,
        repository=repository,
        tag=name_part(build.short_sha),
        auth=registry.auth_config(),
        log=log,
    )
    ref = f"{repository}@{digest}"
    log(f"Pushed: {ref}", "chorus")
    return BuiltImage(ref=ref, digest=image.digest, tag=image.tag)


def _check(runtime: Runtime) -> None:
    """Fail fast (within seconds) when the runtime cannot be reached."""
    check = getattr(runtime, "check", None)
    if check is not None:
        check()
    elif not runtime.available():
        raise RuntimeUnavailable(f"The {runtime.kind} runtime is not available on this machine.")
