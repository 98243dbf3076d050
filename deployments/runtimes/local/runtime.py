"""The local runtime, put together from its parts (build, run, runs)."""

from __future__ import annotations

from deployments.runtimes.local.build import LocalBuild
from deployments.runtimes.local.run import LocalRun
from deployments.runtimes.local.runs import LocalRuns


class LocalRuntime(LocalBuild, LocalRun, LocalRuns):
    kind = "local"

    def __repr__(self) -> str:
        return f"LocalRuntime({self.images_dir})"
