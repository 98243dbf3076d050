"""What the reconciler and the image clean-up ask: find, stop and remove runs and images."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

from deployments.runtimes.base import ImageInUse, ImageRemoveError, RunningTask
from deployments.runtimes.local.core import LocalCore
from deployments.runtimes.local.images import IMAGE_DIR_RE, locked_dir
from deployments.runtimes.local.processes import kill_group


class LocalRuns(LocalCore):
    """The reconciler's find / stop / remove and the image clean-up's remove_image."""

    def find(self, labels: Mapping[str, str]) -> list[RunningTask]:
        found = []
        for path, info in self._runs():
            have = info.get("labels") or {}
            if all(have.get(k) == str(v) for k, v in labels.items()):
                found.append(
                    RunningTask(
                        container_id=path.stem, labels=dict(have), running=self._alive(info)
                    )
                )
        return found

    def stop(self, container_id: str) -> None:
        path = self.runs_dir / f"{container_id}.json"
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        if self._alive(info):
            kill_group(int(info["pid"]))
        self.remove(container_id)

    def remove(self, container_id: str) -> None:
        (self.runs_dir / f"{container_id}.json").unlink(missing_ok=True)

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
            for _pidfile, info in self._runs():
                if info.get("image") == str(path) and self._alive(info):
                    raise ImageInUse(f"Kept {ref}: a task (pid {info.get('pid')}) runs from it.")
            # Renamed first (atomic), so a half-deleted tree never passes for an image.
            doomed = self.images_dir / f".removing-{path.name}-{uuid.uuid4().hex[:8]}"
            try:
                path.rename(doomed)
            except OSError as exc:
                raise ImageRemoveError(f"Could not remove {ref}: {exc}") from exc
        shutil.rmtree(doomed, ignore_errors=True)
