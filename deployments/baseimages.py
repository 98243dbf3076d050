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

    python -m deployments.baseimages [busybox|python|all]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import io
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors

BUSYBOX_TAG = "chorus/busybox:latest"
PYTHON_TAG = "chorus/python:3-debian"
DEFAULT_CACHE_DIR = Path("var/baseimages")

BUSYBOX_PATH = Path("/bin/busybox")
DEBIAN_SUITE = "bookworm"
DEFAULT_DEBIAN_MIRROR = "http://deb.debian.org/debian"
PYTHON_PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates", "git")
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

Log = Callable[[str], None]


class BaseImageError(RuntimeError):
    """A base image cannot be built here; the message says what to install or start."""


# ------------------------------------------------------------------------------ busybox


def ensure_busybox_image(
    client: docker.DockerClient, tag: str = BUSYBOX_TAG, log: Log = print
) -> str:
    """Return the id of ``tag``, building the FROM-scratch busybox image if it is missing."""
    image_id = _image_id(client, tag)
    if image_id:
        log(f"{tag}: present ({_short(image_id)})")
        return image_id

    busybox = BUSYBOX_PATH
    if not busybox.is_file():
        raise BaseImageError(
            f"{busybox} is missing: install Debian's busybox-static (scripts/services.sh install)"
        )
    if not _is_static_elf(busybox):
        # A dynamic busybox would fail inside the image with a baffling "no such file".
        raise BaseImageError(
            f"{busybox} is dynamically linked: install busybox-static instead of busybox"
        )

    started = time.monotonic()
    log(f"{tag}: building FROM scratch with {busybox}")
    context = _busybox_context(busybox)
    try:
        _, output = client.images.build(
            fileobj=context,
            custom_context=True,
            tag=tag,
            rm=True,
            forcerm=True,
            labels={"org.chorus.base": "busybox"},
        )
    except docker.errors.BuildError as exc:
        raise BaseImageError(f"{tag}: docker build failed: {exc}") from exc
    for chunk in output:
        line = str(chunk.get("stream", "")).rstrip()
        if line:
            log(f"  {line}")
    image_id = client.images.get(tag).id
    log(f"{tag}: built {_short(image_id)} in {time.monotonic() - started:.1f}s")
    return image_id


def _busybox_context(busybox: Path) -> io.BytesIO:
    """A build context: a Dockerfile and a tiny root with busybox and its applet links."""
    applets = subprocess.run(
        [str(busybox), "--list-full"], check=True, capture_output=True, text=True
    ).stdout.split()
    dockerfile = (f'FROM scratch\nCOPY rootfs/ /\nENV PATH={IMAGE_PATH}\nCMD ["sh"]\n').encode()

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        _tar_add_bytes(tar, "Dockerfile", dockerfile, 0o644)
        made_dirs: set[str] = set()

        def add_dir(name: str, mode: int = 0o755) -> None:
            if name in made_dirs:
                return
            info = tarfile.TarInfo(f"rootfs/{name}")
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
            made_dirs.add(name)

        for name in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "root", "home"):
            add_dir(name)
        add_dir("tmp", 0o1777)
        add_dir("var", 0o755)
        add_dir("var/tmp", 0o1777)
        tar.add(str(busybox), arcname="rootfs/bin/busybox")
        for applet in applets:
            applet = applet.strip("/")
            if applet == "bin/busybox":
                continue
            parent = applet.rpartition("/")[0]
            if parent:
                add_dir(parent)
            info = tarfile.TarInfo(f"rootfs/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "/bin/busybox"
            tar.addfile(info)
        # Users so that `USER nobody` and tools asking "who am I" work.
        _tar_add_bytes(
            tar,
            "rootfs/etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
            0o644,
        )
        _tar_add_bytes(tar, "rootfs/etc/group", b"root:x:0:\nnogroup:x:65534:\n", 0o644)
    buf.seek(0)
    return buf


def _tar_add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def _is_static_elf(path: Path) -> bool:
    """True for an ELF executable without a PT_INTERP (dynamic loader) program header."""
    with path.open("rb") as f:
        ident = f.read(16)
        if ident[:4] != b"\x7fELF":
            return False
        is64, endian = ident[4] == 2, "<" if ident[5] == 1 else ">"
        if is64:
            f.seek(0x20)
            (phoff,) = struct.unpack(endian + "Q", f.read(8))
            f.seek(0x36)
        else:
            f.seek(0x1C)
            (phoff,) = struct.unpack(endian + "I", f.read(4))
            f.seek(0x2A)
        phentsize, phnum = struct.unpack(endian + "HH", f.read(4))
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            (p_type,) = struct.unpack(endian + "I", f.read(4))
            if p_type == 3:  # PT_INTERP
                return False
    return True


# ------------------------------------------------------------------------------ python


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
    image_id = _image_id(client, tag)
    if image_id:
        log(f"{tag}: present ({_short(image_id)})")
        return image_id

    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Concurrent callers (a test run and a developer's CLI) must not debootstrap into the
    # same directory at once; the second one waits, then finds the tarball or the tag.
    with _locked(cache_dir / ".lock"):
        image_id = _image_id(client, tag)
        if image_id:
            log(f"{tag}: present ({_short(image_id)})")
            return image_id
        started = time.monotonic()
        tarball = _python_rootfs_tarball(cache_dir, log)
        log(f"{tag}: docker import {tarball.name}")
        repository, _, version = _split_tag(tag)
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
        image_id = _image_id(client, tag)
        if not image_id:
            raise BaseImageError(f"{tag}: docker import finished but the tag does not exist")
        log(f"{tag}: imported {_short(image_id)} in {time.monotonic() - started:.1f}s")
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
    _remove_tree(rootfs)
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
    _run_logged(cmd, log)
    log(f"rootfs: debootstrap took {time.monotonic() - started:.0f}s")

    _slim_python_root(rootfs)
    partial = tarball.with_suffix(".tar.partial")
    log(f"rootfs: packing {tarball.name}")
    subprocess.run(
        ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."], check=True
    )
    partial.replace(tarball)  # atomic: a half-written tarball is never taken as the cache
    _remove_tree(rootfs)
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
        for stanza in re.split(r"\n\s*\n", _read(path)):
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
        for line in _read(path).splitlines():
            line = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0])  # drop [options]
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[2] == suite:
                if parts[1].startswith(("http://", "https://")):
                    return parts[1].rstrip("/")
    return DEFAULT_DEBIAN_MIRROR


# ------------------------------------------------------------------------------ helpers


def _image_id(client: docker.DockerClient, tag: str) -> str | None:
    try:
        return client.images.get(tag).id
    except docker.errors.ImageNotFound:
        return None


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def _split_tag(tag: str) -> tuple[str, str, str]:
    """'chorus/python:3-debian' -> ('chorus/python', ':', '3-debian'); a registry port
    ('host:5000/x') is not a tag."""
    repository, sep, version = tag.rpartition(":")
    if not sep or "/" in version:
        return tag, "", "latest"
    return repository, sep, version


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _run_logged(cmd: list[str], log: Log) -> None:
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


def _remove_tree(path: Path) -> None:
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


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ------------------------------------------------------------------------------ CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deployments.baseimages",
        description="Build the offline base images (no registry needed).",
    )
    parser.add_argument("which", nargs="?", default="all", choices=["busybox", "python", "all"])
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    args = parser.parse_args(argv)

    def log(line: str) -> None:
        print(line, flush=True)

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        print(
            f"Docker engine not reachable ({exc}); start it with scripts/services.sh start",
            file=sys.stderr,
        )
        return 1
    try:
        if args.which in ("busybox", "all"):
            ensure_busybox_image(client, log=log)
        if args.which in ("python", "all"):
            ensure_python_image(client, log=log, cache_dir=args.cache_dir)
    except (BaseImageError, docker.errors.DockerException, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
