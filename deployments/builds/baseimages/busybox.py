"""chorus/busybox: FROM scratch plus Debian's static busybox and a link per applet."""

from __future__ import annotations

import io
import struct
import subprocess
import tarfile
import time
from pathlib import Path

import docker
import docker.errors

from deployments.builds.baseimages.common import (
    BUSYBOX_TAG,
    IMAGE_PATH,
    BaseImageError,
    Log,
    image_id_of,
    short_id,
)

BUSYBOX_PATH = Path("/bin/busybox")


def ensure_busybox_image(
    client: docker.DockerClient, tag: str = BUSYBOX_TAG, log: Log = print
) -> str:
    """Return the id of ``tag``, building the FROM-scratch busybox image if it is missing."""
    image_id = image_id_of(client, tag)
    if image_id:
        log(f"{tag}: present ({short_id(image_id)})")
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
    log(f"{tag}: built {short_id(image_id)} in {time.monotonic() - started:.1f}s")
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
