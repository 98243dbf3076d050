"""docker-compose.yml is valid and has the production shape the README promises."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.integration


def _compose() -> list[str]:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    exe = shutil.which("docker-compose")
    assert exe, (
        "neither `docker compose` nor `docker-compose` is installed (scripts/services.sh installs it)"
    )
    return [exe]


def test_compose_config_is_valid_and_complete():
    env = {**os.environ, "CHORUS_SECRET_KEY": "k", "CHORUS_ENCRYPTION_KEY": "e"}
    out = subprocess.run(
        [*_compose(), "-f", str(ROOT / "docker-compose.yml"), "config", "--services"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert set(out.stdout.split()) == {"postgres", "redis", "web", "worker", "executions", "beat"}


def test_compose_refuses_to_start_without_secrets():
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHORUS_")}
    out = subprocess.run(
        [*_compose(), "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert out.returncode != 0
    assert "CHORUS_SECRET_KEY" in out.stderr


def test_worker_gets_docker_socket_and_web_does_not():
    env = {**os.environ, "CHORUS_SECRET_KEY": "k", "CHORUS_ENCRYPTION_KEY": "e"}
    out = subprocess.run(
        [*_compose(), "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    worker = text.split("  worker:")[1].split("\n  beat:")[0] if "  worker:" in text else ""
    web = text.split("  web:")[1].split("\n  worker:")[0] if "  web:" in text else text
    assert "docker.sock" in worker
    assert "docker.sock" not in web
