"""`make run` in a fresh clone of this repository, as a process group the test controls."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What gunicorn (the Procfile's web process) prints once it accepts connections.
WEB_READY = r"Listening at: http://127\.0\.0\.1:\d+"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def install_stamp() -> Path:
    """The Makefile's marker that .venv holds exactly this pyproject's dependencies."""
    digest = hashlib.sha1((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:12]
    return ROOT / ".venv" / f".installed-{digest}"


def fresh_clone(dest: Path) -> Path:
    """A `git clone` of the repository: only committed files, nothing under var/."""
    # Without the stamp, `make run` in the clone would reinstall the project into the suite's
    # own virtualenv, pointing its editable install at a temporary directory.
    assert install_stamp().exists(), "run `make install` first: .venv is out of date"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True)
    return dest


class MakeRun:
    """`make run` with its embedded defaults: only PORT is set (no database, broker, DEBUG or
    other Chorus settings from the suite's environment leak in)."""

    def __init__(self, clone: Path, port: int, log: Path):
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(
                ("DATABASE_URL", "REDIS_URL", "CELERY_", "DJANGO_", "CHORUS_", "DEBUG", "STATIC_")
            )
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
        """Stop the whole process group (make and the supervisor; it stops gunicorn, the workers and beat)."""
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

    def group_alive(self) -> bool:
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        return True
