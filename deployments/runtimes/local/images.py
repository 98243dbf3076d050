"""Image directories: where they live, their build lock, and the digest of a source tree."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from deployments.locks import file_lock

IMAGE_FILE = "image.json"
SKIP_NAMES = {".git", "__pycache__", ".venv", "venv", ".mypy_cache", ".pytest_cache"}
# An image directory's name: the first 32 hex digits of its digest (see `build`).
IMAGE_DIR_RE = re.compile(r"^[0-9a-f]{32}$")


def default_images_dir() -> Path:
    from django.conf import settings

    return Path(settings.CHORUS_LOCAL_IMAGES_DIR)


locked_dir = file_lock  # the name the local runtime's modules use


def _tree_files(root: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_NAMES)
        for name in sorted(filenames):
            if not name.endswith(".pyc"):
                files.append(Path(dirpath) / name)
    return files


def tree_digest(root: Path, extra: str = "") -> str:
    h = hashlib.sha256()
    for path in _tree_files(root):
        rel = path.relative_to(root).as_posix().encode()
        h.update(len(rel).to_bytes(4, "big") + rel)
        if path.is_symlink():
            h.update(b"L" + os.readlink(path).encode())
        else:
            h.update(b"X" if os.access(path, os.X_OK) else b"F")
            data = path.read_bytes()
            h.update(len(data).to_bytes(8, "big") + data)
    h.update(extra.encode())
    return "sha256:" + h.hexdigest()
