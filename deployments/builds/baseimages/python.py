"""chorus/python: a debootstrapped Debian root with Python, loaded with docker import."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import docker

from deployments.builds.baseimages.common import (
    DEFAULT_CACHE_DIR,
    IMAGE_PATH,
    PYTHON_TAG,
    BaseImageError,
    Log,
    image_id_of,
    locked,
    read_text,
    remove_tree,
    run_logged,
    short_id,
    split_tag,
)

DEBIAN_SUITE = "bookworm"
DEFAULT_DEBIAN_MIRROR = "http://deb.debian.org/debian"
PYTHON_PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates", "git")


def ensure_python_image(
    client: docker.DockerClient,
    tag: str = PYTHON_TAG,
    log: Log = print,
    cache_dir: Path = DEFAULT_CACHE_DIR,
) -> str:
    """Return the id of ``tag``, importing a debootstrapped Debian + Python root if missing.

    The root tarball is cached in ``cache_dir``; only the first build on a machine runs
    debootstrap (about a minute with a nearby mirror).
    """
    image_id = image_id_of(client, tag)
    if image_id:
        log(f"{tag}: present ({short_id(image_id)})")
        return image_id

    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Concurrent callers (a test run and a developer's CLI) must not debootstrap into the
    # same directory at once; the second one waits, then finds the tarball or the tag.
    with locked(cache_dir / ".lock"):
        image_id = image_id_of(client, tag)
        if image_id:
            log(f"{tag}: present ({short_id(image_id)})")
            return image_id
        started = time.monotonic()
        tarball = _python_rootfs_tarball(cache_dir, log)
        log(f"{tag}: docker import {tarball.name}")
        repository, _, version = split_tag(tag)
        client.api.import_image_from_file(
            str(tarball),
            repository=repository,
            tag=version,
            changes=[
                f"ENV PATH={IMAGE_PATH}",
                "ENV LANG=C.UTF-8",
                "ENV PIP_DISABLE_PIP_VERSION_CHECK=1",
                "LABEL org.chorus.base=python",
                'CMD ["/bin/sh"]',
            ],
        )
        image_id = image_id_of(client, tag)
        if not image_id:
            raise BaseImageError(f"{tag}: docker import finished but the tag does not exist")
        log(f"{tag}: imported {short_id(image_id)} in {time.monotonic() - started:.1f}s")
        return image_id


def _python_rootfs_tarball(cache_dir: Path, log: Log) -> Path:
    mirror = debian_mirror()
    # The name carries what goes into the root, so changing the package list rebuilds.
    key = hashlib.sha256(f"{DEBIAN_SUITE} {' '.join(PYTHON_PACKAGES)}".encode()).hexdigest()[:10]
    tarball = cache_dir / f"debian-{DEBIAN_SUITE}-python-{key}.tar"
    if tarball.is_file():
        log(f"rootfs: cached {tarball} ({tarball.stat().st_size // 2**20} MiB)")
        return tarball

    if shutil.which("debootstrap") is None:
        raise BaseImageError("debootstrap is missing: run scripts/services.sh install")
    if os.geteuid() != 0:
        raise BaseImageError("debootstrap needs root to build the python base image")

    rootfs = cache_dir / "rootfs.partial"
    remove_tree(rootfs)
    started = time.monotonic()
    cmd = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(PYTHON_PACKAGES)}",
        DEBIAN_SUITE,
        str(rootfs),
        mirror,
    ]
    log(f"rootfs: {' '.join(cmd)}")
    run_logged(cmd, log)
    log(f"rootfs: debootstrap took {time.monotonic() - started:.0f}s")

    _slim_python_root(rootfs)
    partial = tarball.with_suffix(".tar.partial")
    log(f"rootfs: packing {tarball.name}")
    subprocess.run(
        ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."], check=True
    )
    partial.replace(tarball)  # atomic: a half-written tarball is never taken as the cache
    remove_tree(rootfs)
    log(f"rootfs: {tarball} ({tarball.stat().st_size // 2**20} MiB)")
    return tarball


def _slim_python_root(root: Path) -> None:
    """Make the root behave like the python:3 images, and drop what a task never reads."""
    python = root / "usr/bin/python"
    if not python.exists():
        python.symlink_to("python3")
    # Debian marks its Python "externally managed" (PEP 668), so `pip install` in a
    # Dockerfile would refuse; in a single-purpose image the system site is the right place,
    # as it is in the python:3 images.
    for marker in root.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    # Downloaded .debs and package lists (apt-get update refetches them), docs, man pages
    # and translations: ~170 MiB of the ~420 MiB root.
    for pattern in (
        "var/cache/apt/archives/*.deb",
        "var/cache/apt/*.bin",
        "var/lib/apt/lists/*_*",
        "usr/share/man/*",
        "usr/share/info/*",
        "usr/share/locale/*",
        "usr/share/doc/*/*",
    ):
        for path in root.glob(pattern):
            if path.name == "copyright":  # licences stay
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    # Docker mounts its own /dev; device nodes in a layer only get in the way.
    for path in (root / "dev").iterdir():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def debian_mirror(
    sources_dir: Path = Path("/etc/apt/sources.list.d"),
    sources_list: Path = Path("/etc/apt/sources.list"),
    suite: str = DEBIAN_SUITE,
) -> str:
    """The machine's configured Debian mirror for ``suite`` (deb822 ``.sources`` first).

    ``CHORUS_DEBIAN_MIRROR`` overrides it; deb.debian.org is the last resort.
    """
    override = os.environ.get("CHORUS_DEBIAN_MIRROR", "").strip()
    if override:
        return override

    for path in sorted(sources_dir.glob("*.sources")) if sources_dir.is_dir() else []:
        for stanza in re.split(r"\n\s*\n", read_text(path)):
            fields: dict[str, str] = {}
            key = ""
            for line in stanza.splitlines():
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                if line[0] in " \t" and key:  # continuation line
                    fields[key] += " " + line.strip()
                    continue
                key, _, value = line.partition(":")
                key = key.strip().lower()
                fields[key] = value.strip()
            if fields.get("enabled", "yes").lower() == "no":
                continue
            if "deb" not in fields.get("types", "").split():
                continue
            if suite not in fields.get("suites", "").split():
                continue
            for uri in fields.get("uris", "").split():
                if uri.startswith(("http://", "https://")):
                    return uri.rstrip("/")

    list_files = [sources_list]
    if sources_dir.is_dir():
        list_files += sorted(sources_dir.glob("*.list"))
    for path in list_files:
        for line in read_text(path).splitlines():
            line = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0])  # drop [options]
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[2] == suite:
                if parts[1].startswith(("http://", "https://")):
                    return parts[1].rstrip("/")
    return DEFAULT_DEBIAN_MIRROR
