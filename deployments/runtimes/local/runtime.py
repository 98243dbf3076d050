"""The local runtime, put together from its parts (build, run, runs)."""

from __future__ import annotations

from .build import LocalBuild
from .run import LocalRun
from .runs import LocalRuns


class LocalRuntime(LocalBuild, LocalRun, LocalRuns):
    kind = "local"

    def __repr__(self) -> str:
        return f"LocalRuntime({self.images_dir})"
