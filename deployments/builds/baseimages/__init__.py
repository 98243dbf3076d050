"""Base images made on this machine, for Docker engines that cannot reach a registry.

No image registry is reachable from the test and CI machines, so nothing can be pulled.
Two bases are built locally instead:

* ``chorus/busybox:latest`` — ``FROM scratch`` plus Debian's static busybox and a symlink
  per applet (``sh``, ``echo``, ``sleep``, ``env``…). Builds in about a second.
* ``chorus/python:3-debian`` — a Debian bookworm root made by ``debootstrap`` from the
  machine's own configured Debian mirror, with python3, venv, pip, git and CA certificates,
  loaded with ``docker import``. The root tarball is cached under ``var/baseimages`` so a
  rebuild after ``docker rmi`` is an import, not a debootstrap.

Both are idempotent: an existing tag is returned as is. This module needs only the stdlib,
the ``docker`` SDK and the host tools (busybox-static, debootstrap, tar); it must stay
importable without Django settings, since ``scripts/`` and CI call it directly:

    python -m deployments.builds.baseimages [busybox|python|all]
"""

from __future__ import annotations

from deployments.builds.baseimages.busybox import BUSYBOX_PATH, ensure_busybox_image
from deployments.builds.baseimages.common import (
    BUSYBOX_TAG,
    DEFAULT_CACHE_DIR,
    PYTHON_TAG,
    BaseImageError,
)
from deployments.builds.baseimages.python import (
    DEFAULT_DEBIAN_MIRROR,
    PYTHON_PACKAGES,
    debian_mirror,
    ensure_python_image,
)

__all__ = [
    "BUSYBOX_PATH",
    "BUSYBOX_TAG",
    "DEFAULT_CACHE_DIR",
    "DEFAULT_DEBIAN_MIRROR",
    "PYTHON_PACKAGES",
    "PYTHON_TAG",
    "BaseImageError",
    "debian_mirror",
    "ensure_busybox_image",
    "ensure_python_image",
]
