"""Real parts for the tests of many hosts: OCI registries (Debian's docker-registry) and the
second Docker engine (engine B) that scripts/services.sh starts.

`shared_registry()` is the one services.sh runs on a loopback port; `RegistryProcess` starts a
private one (own port, storage, optional htpasswd users) that a test may stop and start again.
127.0.0.0/8 is an insecure (plain HTTP) registry for both engines by default.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import requests

from .processes import LOG_DIR

REGISTRY_PORT = int(os.environ.get("CHORUS_TEST_REGISTRY_PORT", "5001"))
DOCKER_B = "unix://" + os.environ.get("CHORUS_DOCKER_B_SOCKET", "/run/chorus-docker-b.sock")
# Engine B's task network (scripts/services.sh): environments on B name it, because Chorus's
# default network name would make both engines claim one host bridge interface.
DOCKER_B_NETWORK = "chorus-b-tasks"


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code in (200, 401)
    except requests.RequestException:
        return False


def require(ok: bool, what: str) -> None:
    """A missing real part fails the test with how to get it (never a skip)."""
    if not ok:
        raise RuntimeError(f"{what} is not running: start it with `bash scripts/services.sh start`")


def shared_registry(prefix: str = "") -> str:
    """CHORUS_REGISTRY for the services.sh registry, under a prefix of the test's own."""
    require(_answers(f"http://127.0.0.1:{REGISTRY_PORT}/v2/"), "the test registry")
    return f"127.0.0.1:{REGISTRY_PORT}/{prefix or 'chorus-test-' + uuid.uuid4().hex[:8]}"


def engine_b():
    """A client of engine B; fails with a clear message when it is not running."""
    import docker

    try:
        client = docker.DockerClient(base_url=DOCKER_B, timeout=120)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means the part is missing
        raise RuntimeError(
            f"The second Docker engine at {DOCKER_B} does not answer ({exc}); "
            "start it with `bash scripts/services.sh start`"
        ) from exc
    return client


def has_image(client, ref: str) -> bool:
    import docker.errors

    try:
        client.images.get(ref)
        return True
    except docker.errors.ImageNotFound:
        return False


def remove_image(client, ref: str) -> None:
    import docker.errors

    try:
        client.images.remove(ref, force=True)
    except docker.errors.DockerException:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RegistryProcess:
    """A docker-registry of the test's own on 127.0.0.1:<free port>."""

    def __init__(self, root: Path, *, users: dict[str, str] | None = None) -> None:
        self.root = Path(root)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.root.mkdir(parents=True, exist_ok=True)
        auth = ""
        if users:
            htpasswd = self.root / "htpasswd"
            lines = []
            for user, password in users.items():
                out = subprocess.run(
                    ["htpasswd", "-Bbn", user, password], check=True, capture_output=True
                )
                lines.append(out.stdout.decode().strip())
            htpasswd.write_text("\n".join(lines) + "\n")
            auth = f"auth:\n  htpasswd:\n    realm: chorus-test\n    path: {htpasswd}\n"
        (self.root / "config.yml").write_text(
            "version: 0.1\nlog:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.root / 'data'}\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.host}\n  secret: chorus-test\n{auth}"
        )

    def start(self) -> RegistryProcess:
        if shutil.which("docker-registry") is None:
            raise RuntimeError("docker-registry is not installed: bash scripts/services.sh install")
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = open(LOG_DIR / f"registry-{self.port}.log", "ab")  # noqa: SIM115 - owned by Popen
        self.proc = subprocess.Popen(
            ["docker-registry", "serve", str(self.root / "config.yml")],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while not _answers(f"http://{self.host}/v2/"):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"the test registry on {self.host} did not start")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def delete_by_hand(self, ref: str, auth=None) -> None:
        """Delete a manifest the way an operator would (curl -X DELETE on the registry API)."""
        name, digest = ref.split("/", 1)[1].split("@")
        url = f"http://{self.host}/v2/{name}/manifests/{digest}"
        assert requests.delete(url, auth=auth, timeout=10).status_code == 202
