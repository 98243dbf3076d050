"""What the reconciler and the image clean-up ask: find, stop and remove runs and images."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

from deployments.runtimes.base import ImageInUse, ImageRemoveError, OutputLine, RunningTask
from deployments.runtimes.local import rundir
from deployments.runtimes.local.core import LocalCore
from deployments.runtimes.local.images import IMAGE_DIR_RE, locked_dir
from deployments.runtimes.local.processes import kill_group

# What run.py names a run: "local-" and 16 hex digits.
RUN_ID_RE = re.compile(r"^local-[0-9a-f]{16}$")


class LocalRuns(LocalCore):
    """The reconciler's find / stop / remove and the image clean-up's remove_image."""

    def find(self, labels: Mapping[str, str]) -> list[RunningTask]:
        found = []
        for path, info in self._runs():
            have = info.get("labels") or {}
            if all(have.get(k) == str(v) for k, v in labels.items()):
                running = self._alive(path, info)
                exit_code, ended = (None, None) if running else rundir.exit_status(path)
                if not running and exit_code is None:
                    exit_code = 137  # bwrap itself was killed: nothing reported the task's end
                found.append(
                    RunningTask(
                        container_id=path.name,
                        labels=dict(have),
                        running=running,
                        exit_code=exit_code,
                        started_at=rundir.started_at(info),
                        finished_at=ended,
                    )
                )
        return found

    def output(self, container_id: str) -> list[OutputLine]:
        path = self._run_dir(container_id)
        return rundir.output(path) if path is not None else []

    def stop(self, container_id: str) -> None:
        path = self._run_dir(container_id)
        info = rundir.info_read(path) if path is not None else None
        if info is None:
            return
        if self._alive(path, info):
            kill_group(int(info["pid"]))
        self.remove(container_id)

    def remove(self, container_id: str) -> None:
        path = self._run_dir(container_id)
        if path is not None:
            rundir.remove(path)

    def _run_dir(self, container_id: str) -> Path | None:
        """The run's directory, only for a run id (never a path that leaves runs/)."""
        if not RUN_ID_RE.match(container_id):
            return None
        return self.runs_dir / container_id

    # --- image clean-up ---------------------------------------------------------------------
    def remove_image(self, ref: str) -> None:
        """Delete the image directory `ref`, only if it is an image directory directly inside
        this runtime's images dir (never a symlink, never runs/ or anything else), and no live
        run uses it. Holds the build's lock, so a build reusing the image waits for us."""
        path = Path(ref)
        if (
            not path.is_absolute()
            or not IMAGE_DIR_RE.match(path.name)
            or path.parent.resolve() != self.images_dir.resolve()
        ):
            raise ImageRemoveError(f"Refused to remove {ref}: not a local image of {self}.")
        with locked_dir(self.images_dir / ".locks" / f"{path.name}.lock"):
            if path.is_symlink():
                raise ImageRemoveError(f"Refused to remove {ref}: it is a symbolic link.")
            if not path.exists():
                return  # already gone
            for run_dir, info in self._runs():
                if info.get("image") == str(path) and self._alive(run_dir, info):
                    raise ImageInUse(f"Kept {ref}: a task (pid {info.get('pid')}) runs from it.")
            # Renamed first (atomic), so a half-deleted tree never passes for an image.
            doomed = self.images_dir / f".removing-{path.name}-{uuid.uuid4().hex[:8]}"
            try:
                path.rename(doomed)
            except OSError as exc:
                raise ImageRemoveError(f"Could not remove {ref}: {exc}") from exc
        shutil.rmtree(doomed, ignore_errors=True)
