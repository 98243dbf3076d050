"""What the local runtime's parts share: the images dir, the interpreter, the run directories."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

from deployments.runtimes.base import Runtime, RuntimeUnavailable
from deployments.runtimes.local import rundir, sandbox
from deployments.runtimes.local.images import default_images_dir
from deployments.runtimes.local.processes import proc_start_time


class LocalCore(Runtime):
    """Where images and runs live, which interpreter makes venvs, which runs are alive."""

    def __init__(self, *, images_dir: Path | None = None, python: str | None = None) -> None:
        from django.conf import settings

        self.images_dir = Path(images_dir) if images_dir else default_images_dir()
        # venvs are made from the interpreter Chorus runs on (its base, not Chorus's venv).
        self.python = python or getattr(sys, "_base_executable", None) or sys.executable
        self.read_only_paths = list(settings.CHORUS_LOCAL_SANDBOX_PATHS)
        self.task_network = bool(settings.CHORUS_LOCAL_TASK_NETWORK)
        # Set by get_runtime when "auto" chose this runtime because Docker did not answer.
        self.fallback_reason = ""

    @property
    def runs_dir(self) -> Path:
        return self.images_dir / "runs"

    def check(self) -> None:
        """Raise RuntimeUnavailable (user-facing) unless this machine may build and run here:
        in production only when CHORUS_ALLOW_LOCAL_RUNTIME says so, and always in bubblewrap."""
        from django.conf import settings

        if settings.PRODUCTION and not settings.CHORUS_ALLOW_LOCAL_RUNTIME:
            raise RuntimeUnavailable(
                "The local runtime is off in production (CHORUS_ENV=production): tasks run "
                "on the Docker engine. Set CHORUS_ALLOW_LOCAL_RUNTIME=true to allow it "
                "(see docs/security.md)."
            )
        if not (self.python and os.access(self.python, os.X_OK)):
            raise RuntimeUnavailable(f"The local runtime cannot execute {self.python}.")
        sandbox.check()

    def available(self) -> bool:
        try:
            self.check()
        except RuntimeUnavailable:
            return False
        return True

    def bwrap(self) -> str:
        return sandbox.check()

    def _runs(self) -> Iterator[tuple[Path, dict]]:
        """Each run directory (rundir.py) with its record."""
        if not self.runs_dir.is_dir():
            return
        for path in sorted(self.runs_dir.glob("local-*")):
            info = rundir.info_read(path) if path.is_dir() else None
            if info is not None:
                yield path, info

    @staticmethod
    def _alive(run_dir: Path, info: dict) -> bool:
        """The task still runs: its bwrap lives (not a reused pid) and reported no exit."""
        pid = info.get("pid")
        if not pid or proc_start_time(int(pid)) != info.get("start"):
            return False
        return rundir.exit_status(run_dir)[0] is None
