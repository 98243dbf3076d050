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
