"""What the base image builders share: tags, errors, and small process/file helpers."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors

from deployments.locks import file_lock

BUSYBOX_TAG = "chorus/busybox:latest"
PYTHON_TAG = "chorus/python:3-debian"
DEFAULT_CACHE_DIR = Path("var/baseimages")
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

Log = Callable[[str], None]


class BaseImageError(RuntimeError):
    """A base image cannot be built here; the message says what to install or start."""


def image_id_of(client: docker.DockerClient, tag: str) -> str | None:
    try:
        return client.images.get(tag).id
    except docker.errors.ImageNotFound:
        return None


def short_id(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def split_tag(tag: str) -> tuple[str, str, str]:
    """'chorus/python:3-debian' -> ('chorus/python', ':', '3-debian'); a registry port
    ('host:5000/x') is not a tag."""
    repository, sep, version = tag.rpartition(":")
    if not sep or "/" in version:
        return tag, "", "latest"
    return repository, sep, version


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def run_logged(cmd: list[str], log: Log) -> None:
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    )
    assert proc.stdout is not None
    tail: list[str] = []
    for line in proc.stdout:
        line = line.rstrip()
        log(f"  {line}")
        tail = [*tail[-19:], line]
    if proc.wait() != 0:
        raise BaseImageError(f"{cmd[0]} failed (exit {proc.returncode}):\n" + "\n".join(tail[-10:]))


def remove_tree(path: Path) -> None:
    """rm -rf for a debootstrap target, unmounting what an interrupted run left mounted
    (its /proc and /sys) first, so the removal never reaches into the host's."""
    if not path.exists():
        return
    target = str(path.resolve())
    mounts = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mounts").read_text().splitlines():
            point = line.split()[1].encode().decode("unicode_escape")
            if point == target or point.startswith(target + "/"):
                mounts.append(point)
    for point in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False)
    shutil.rmtree(path)


locked = file_lock
