"""Runtimes: see base.py for the interface. `get_runtime(environment)` picks one."""

from __future__ import annotations

from deployments.runtimes.base import Runtime, RuntimeUnavailable

__all__ = ["KINDS", "get_runtime", "runtime_for_build", "runtime_kind_for"]

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

    "auto" is Docker when its engine answers (within ~2 s), else the local runtime, so a
    machine without Docker still builds and runs Python tasks. An explicit "docker" never
    falls back: a build then fails with the engine's "not reachable" message.
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
    if kind == "docker" or docker.available():
        return docker
    return LocalRuntime()


def runtime_for_build(build, environment=None) -> Runtime:
    """The runtime that can run `build`'s image in `environment`.

    A build's image lives where it was built: a local build (its image is a directory) runs
    on the local runtime even when Docker answers now; a Docker build runs on the
    environment's engine (no fallback, so a down engine is reported, not papered over).
    """
    from deployments.runtimes.docker.runtime import DockerRuntime
    from deployments.runtimes.local.runtime import LocalRuntime

    if build.runtime_kind == "local":
        return LocalRuntime()
    if build.runtime_kind == "docker":
        return DockerRuntime.for_environment(environment)
    return get_runtime(environment)
