"""The offline base images build here, with no registry, and run what tasks run."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import docker
import pytest

from deployments.builds.baseimages.busybox import ensure_busybox_image
from deployments.builds.baseimages.common import BUSYBOX_TAG, PYTHON_TAG
from deployments.builds.baseimages.python import ensure_python_image

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
# Shared with `python -m deployments.builds.baseimages`, so debootstrap runs once per machine.
CACHE_DIR = REPO / "var" / "baseimages"


@pytest.fixture(scope="module")
def client() -> docker.DockerClient:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"Docker engine not reachable ({exc}): run scripts/services.sh start")
    return client


def run(client: docker.DockerClient, image: str, command: list[str]) -> str:
    return client.containers.run(image, command, remove=True).decode().strip()


def test_busybox_image_builds_from_scratch_and_runs_a_shell(client):
    tag = f"chorus/busybox:test-{os.getpid()}"
    lines: list[str] = []
    try:
        image_id = ensure_busybox_image(client, tag=tag, log=lines.append)
        assert any("building FROM scratch" in line for line in lines)
        image = client.images.get(tag)
        assert image.id == image_id
        # Nothing but busybox: a scratch base, no layers from anywhere else.
        assert image.attrs["Size"] < 5 * 2**20
        assert run(client, tag, ["sh", "-c", "echo hello"]) == "hello"
        assert run(
            client, tag, ["/usr/bin/env", "sh", "-c", "sleep 0; cat /etc/passwd"]
        ).startswith("root:x:0:0")
        # Asking again is a no-op that returns the same image.
        again: list[str] = []
        assert ensure_busybox_image(client, tag=tag, log=again.append) == image_id
        assert again == [f"{tag}: present ({image_id.removeprefix('sha256:')[:12]})"]
    finally:
        client.images.remove(tag, force=True)


def test_default_busybox_tag_runs_echo(client):
    ensure_busybox_image(client, log=lambda line: None)
    assert run(client, BUSYBOX_TAG, ["sh", "-c", "echo hello"]) == "hello"


def test_python_image_runs_python3_python_and_git(client):
    ensure_python_image(client, log=print, cache_dir=CACHE_DIR)
    assert run(client, PYTHON_TAG, ["python3", "-c", "print(1+1)"]) == "2"
    assert (
        run(client, PYTHON_TAG, ["python", "-c", "import sys; print(sys.version_info[0])"]) == "3"
    )
    assert run(client, PYTHON_TAG, ["git", "--version"]).startswith("git version 2.")
    assert (
        run(
            client,
            PYTHON_TAG,
            ["sh", "-c", "python3 -m venv /tmp/v && /tmp/v/bin/python -c 'print(7)'"],
        )
        == "7"
    )


def test_a_dockerfile_from_the_python_image_builds_offline(client):
    """What the build pipeline does with a user's repository: FROM the local base."""
    ensure_python_image(client, log=print, cache_dir=CACHE_DIR)
    dockerfile = (
        f"FROM {PYTHON_TAG}\n"
        "RUN python3 -m pip --version\n"
        "COPY main.py /app/main.py\n"
        'CMD ["python", "/app/main.py"]\n'
    )
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, text in {"Dockerfile": dockerfile, "main.py": "print('task ran')\n"}.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    tag = f"chorus/test-task:{os.getpid()}"
    try:
        client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True)
        assert client.containers.run(tag, remove=True).decode().strip() == "task ran"
    finally:
        client.images.remove(tag, force=True)
