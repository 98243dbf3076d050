"""What the local runtime's parts share: the images dir, the interpreter, the pidfiles."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from deployments.runtimes.base import Runtime
from deployments.runtimes.local.images import default_images_dir
from deployments.runtimes.local.processes import proc_start_time


class LocalCore(Runtime):
    """Where images and pidfiles live, which interpreter makes venvs, which runs are alive."""

    def __init__(self, *, images_dir: Path | None = None, python: str | None = None) -> None:
        self.images_dir = Path(images_dir) if images_dir else default_images_dir()
        # venvs are made from the interpreter Chorus runs on (its base, not Chorus's venv).
        self.python = python or getattr(sys, "_base_executable", None) or sys.executable

    @property
    def runs_dir(self) -> Path:
        return self.images_dir / "runs"

    def available(self) -> bool:
        return bool(self.python) and os.access(self.python, os.X_OK)

    def _runs(self) -> Iterator[tuple[Path, dict]]:
        if not self.runs_dir.is_dir():
            return
        for path in sorted(self.runs_dir.glob("local-*.json")):
            try:
                yield path, json.loads(path.read_text())
            except (OSError, ValueError):
                continue

    @staticmethod
    def _alive(info: dict) -> bool:
        pid = info.get("pid")
        return bool(pid) and proc_start_time(int(pid)) == info.get("start")
