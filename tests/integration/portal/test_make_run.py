"""`make run` from a fresh clone: serves the login page; a second start reuses the database and
the first user. Runs the real Makefile with its embedded defaults (SQLite + filesystem broker),
starting web, worker and beat through honcho.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MakeRun:
    def __init__(self, clone: Path, port: int, log: Path):
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DATABASE_URL", "REDIS_URL", "CELERY_", "DJANGO_SETTINGS"))
        }
        env["PORT"] = str(port)
        self.log = log
        self._fh = open(log, "wb")  # noqa: SIM115
        # The suite's virtualenv stands in for the install step (its stamp matches this
        # pyproject, so nothing is reinstalled); everything else comes from the fresh clone.
        self.proc = subprocess.Popen(
            ["make", "run", f"VENV={ROOT / '.venv'}", f"PORT={port}"],
            cwd=clone,
            env=env,
            stdout=self._fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(pattern, self.text())
            if m:
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.3)
        raise AssertionError(f"make run never printed {pattern!r}:\n{self.text()[-4000:]}")

    def stop(self) -> None:
        for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout=wait)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        self._fh.close()


def _log_in(base: str, username: str, password: str) -> requests.Response:
    s = requests.Session()
    page = s.get(f"{base}/login/", timeout=10)
    assert page.status_code == 200 and "Log in to Chorus" in page.text
    token = s.cookies["csrftoken"]
    return s.post(
        f"{base}/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/login/"},
        timeout=10,
    )


def _install_stamp() -> Path:
    """The Makefile's marker that .venv holds exactly this pyproject's dependencies."""
    import hashlib

    digest = hashlib.sha1((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:12]
    return ROOT / ".venv" / f".installed-{digest}"


def test_make_run_from_fresh_clone_and_restart(tmp_path):
    # Without the stamp, `make run` in the clone would reinstall the project into the suite's
    # own virtualenv, pointing its editable install at a temporary directory.
    assert _install_stamp().exists(), "run `make install` first: .venv is out of date"
    clone = tmp_path / "chorus"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"

    first = MakeRun(clone, port, tmp_path / "first.log")
    try:
        m = first.wait_for(r"log in as (\S+) / (\S+)")
        username, password = m.group(1), m.group(2)
        assert "Created admin user" in first.text()
        first.wait_for(r"Quit the server with|Starting development server", 60)
        # Both workers (builds and executions), on the embedded broker.
        first.wait_for(r"worker@\S+ ready\.", 90)
        first.wait_for(r"executions@\S+ ready\.", 90)
        first.wait_for(r"beat: Starting", 60)
        deadline = time.monotonic() + 30
        while True:
            try:
                r = _log_in(base, username, password)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert r.status_code == 200 and "Demo" in r.text
    finally:
        first.stop()

    assert (clone / "var" / "chorus.sqlite3").exists()
    second = MakeRun(clone, port, tmp_path / "second.log")
    try:
        m = second.wait_for(r"log in as (\S+) / (\S+)")
        assert "Created admin user" not in second.text()
        assert "Created the Demo project" not in second.text()
        assert (m.group(1), m.group(2)) == (username, password)
        second.wait_for(r"Quit the server with|Starting development server", 60)
        deadline = time.monotonic() + 30
        while True:
            try:
                r = _log_in(base, username, password)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert r.status_code == 200 and r.text.count(">Demo<") >= 1
    finally:
        second.stop()
