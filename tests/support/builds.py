"""Helpers for build tests: sample trees as commit contents, the offline base images."""

from __future__ import annotations

from pathlib import Path

from components.samples import SAMPLES_DIR

PYTHON_BASE = "chorus/python:3-debian"
BUSYBOX_BASE = "chorus/busybox:latest"


def sample_files(key: str, prefix: str = "") -> dict[str, bytes]:
    """The files of a built-in sample, keyed by path (under `prefix`), for BareRepo.commit."""
    root = SAMPLES_DIR / key
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            rel = path.relative_to(root).as_posix()
            files[f"{prefix}{rel}"] = path.read_bytes()
    return files


def docker_client():
    """A client of the engine under test; a missing engine fails the test (never a skip)."""
    from deployments.runtimes.docker.runtime import DockerRuntime

    return DockerRuntime().client(timeout=600)


def ensure_base_images() -> None:
    """Build the offline bases if this engine lacks them (the python one takes ~1 min once)."""
    from deployments.builds.baseimages.busybox import ensure_busybox_image
    from deployments.builds.baseimages.python import ensure_python_image

    client = docker_client()
    try:
        ensure_busybox_image(client, tag=BUSYBOX_BASE, log=lambda line: None)
        ensure_python_image(
            client,
            tag=PYTHON_BASE,
            log=lambda line: None,
            cache_dir=Path(__file__).resolve().parents[2] / "var" / "baseimages",
        )
    finally:
        client.close()


def remove_images(refs) -> None:
    import docker.errors

    client = docker_client()
    try:
        for ref in refs:
            if ref:
                try:
                    client.images.remove(ref, force=True)
                except docker.errors.DockerException:
                    pass
    finally:
        client.close()


def host_address_for_containers(client, network: str = "bridge") -> str:
    """The host's address on a bridge network (the engine's default one unless named): where
    a container on it reaches the host.

    A fresh engine's `bridge` network may list only a Subnet (no Gateway) in its IPAM config,
    so the address is read from the bridge interface itself (named in the network's options).
    """
    import fcntl
    import socket
    import struct

    options = client.networks.get(network).attrs.get("Options") or {}
    iface = options.get("com.docker.network.bridge.name", "docker0")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            packed = fcntl.ioctl(
                s.fileno(),
                0x8915,
                struct.pack("256s", iface.encode()[:15]),  # SIOCGIFADDR
            )
        except OSError as exc:
            raise AssertionError(f"bridge interface {iface} has no IPv4 address: {exc}") from exc
    return socket.inet_ntoa(packed[20:24])
