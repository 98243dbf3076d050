"""Runtimes: see base.py for the interface. `get_runtime(environment)` picks one."""

from __future__ import annotations

from deployments.runtimes.base import Runtime, RuntimeUnavailable

__all__ = ["KINDS", "get_runtime", "runtime_for_build", "runtime_for_kind", "runtime_kind_for"]

# "record" runs nothing and records the start (deployments/runtimes/record.py: benchmarks, tests).
KINDS = ("docker", "local", "record")


def runtime_kind_for(environment=None) -> str:
    """The configured kind: the environment's, unless it says "auto", then the setting's.

    May still be "auto" (the setting's default): get_runtime decides it by asking Docker.
    """
    from django.conf import settings

    kind = (getattr(environment, "runtime_kind", "") or "auto").strip().lower()
    if kind == "auto":
        kind = (settings.CHORUS_DEFAULT_RUNTIME or "auto").strip().lower()
    if kind not in (*KINDS, "auto"):
        raise RuntimeUnavailable(
            f"Unknown runtime “{kind}”; use docker, local, record or auto (CHORUS_DEFAULT_RUNTIME)."
        )
    return kind


def get_runtime(environment=None) -> Runtime:
    """The runtime for `environment` (None: the defaults from settings).

    "auto" is Docker when its engine answers (within ~2 s); else the local runtime (the
    bubblewrap sandbox) when this machine may use it (always in development; in production
    only with CHORUS_ALLOW_LOCAL_RUNTIME), carrying the reason in `fallback_reason` so the
    build log says why. Never silently: when neither can be used, the Docker runtime is
    returned with the local runtime's refusal attached, and the first call on it fails with
    both reasons. An explicit "docker" never falls back; an explicit "local" is refused in
    production unless allowed (LocalRuntime.check).
    """
    from deployments.runtimes.docker.runtime import DockerRuntime
    from deployments.runtimes.local.runtime import LocalRuntime

    kind = runtime_kind_for(environment)
    if kind == "record":
        from deployments.runtimes.record import RecordRuntime

        return RecordRuntime()
    if kind == "local":
        return LocalRuntime()
    docker = DockerRuntime.for_environment(environment)
    if kind == "docker":
        return docker
    try:
        docker.check()
    except RuntimeUnavailable as exc:
        local = LocalRuntime()
        try:
            local.check()
        except RuntimeUnavailable as refused:
            docker.unavailable_note = f"No fallback: {refused}"
            return docker
        local.fallback_reason = str(exc)
        return local
    return docker


def runtime_for_build(build, environment=None) -> Runtime:
    """The runtime that can run `build`'s image in `environment`.

    A build's image lives where it was built: a local build (its image is a directory) runs
    on the local runtime even when Docker answers now; a Docker build runs on the
    environment's engine (no fallback, so a down engine is reported, not papered over).
    """
    return runtime_for_kind(build.runtime_kind, environment)


def runtime_for_kind(built_with: str, environment=None) -> Runtime:
    """runtime_for_build, given the kind of runtime that built the image ("" when unknown)."""
    from deployments.runtimes.docker.runtime import DockerRuntime
    from deployments.runtimes.local.runtime import LocalRuntime

    if built_with == "local":
        return LocalRuntime()
    if built_with == "docker":
        return DockerRuntime.for_environment(environment)
    return get_runtime(environment)
