"""Helpers for the sample tests: run a sample as Chorus does, serve HTTP locally."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from deployments.loglevels import NAMES, read_line

SAMPLES_DIR = Path(__file__).resolve().parents[4] / "components" / "samples"


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        """Stdout as the execution log shows it (a JSON line with a level as its message)."""
        return [read_line("stdout", line)[1] for line in self.stdout.splitlines()]

    @property
    def levels(self) -> list[str]:
        return [NAMES[read_line("stdout", line)[0]] for line in self.stdout.splitlines()]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_sample(key: str, env: dict[str, str], *, argv: list[str] | None = None) -> Run:
    """Run `python3 main.py` in the sample's directory with only the given settings.

    The parent environment is not inherited, so a DATABASE_URL or similar in the
    developer's shell cannot leak into a sample. sys.executable stands in for `python3`
    because it is the interpreter that has psycopg installed.
    """
    completed = subprocess.run(
        argv or [sys.executable, "main.py"],
        cwd=SAMPLES_DIR / key,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONDONTWRITEBYTECODE": "1",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    return Run(completed.returncode, completed.stdout, completed.stderr)


@dataclass
class LocalServer:
    url: str
    requests: list[dict[str, object]]


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    content_type: str = "application/json",
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if body:
        handler.wfile.write(body)
