"""Run the real `chorus` console script against a live server (and a real Celery worker)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# The approval tests' objects: a component whose build ran in Development, approvals on.
from tests.unit.approvals.conftest import approvals_on, in_dev  # noqa: F401
from tests.unit.deploy.conftest import build, component, dev, make_build, prod, ran  # noqa: F401

ROOT = Path(__file__).resolve().parents[3]
# The console script pip made for `chorus = "portal.cli:main"` (pip install -e .).
CHORUS = Path(sys.executable).parent / "chorus"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture
def chorus(live_server, cli_home):
    """chorus("projects", "list", token=key) → Result. Runs the installed console script."""
    assert CHORUS.exists(), f"{CHORUS} is missing: run `.venv/bin/pip install -e .`"

    def run(
        *args: str,
        token: str | None = None,
        stdin: str | None = None,
        timeout=240,
        url: str | None = None,
        env: dict | None = None,
    ) -> Result:
        e = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(cli_home),
            "XDG_CONFIG_HOME": str(cli_home / ".config"),
            # The tree under test, even if the editable install points at another checkout.
            "PYTHONPATH": str(ROOT),
            "CHORUS_URL": url or live_server.url,
            "LANG": "C.UTF-8",
        }
        if token:
            e["CHORUS_TOKEN"] = token
        e.update(env or {})
        proc = subprocess.run(
            [str(CHORUS), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=e,
            timeout=timeout,
            cwd=cli_home,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture
def tokens(users_by_role):
    from portal.services import api_token_create

    return {role: api_token_create(user=u, name="cli")[1] for role, u in users_by_role.items()}
