"""The stand-in's data: its fake repositories (each a real bare git repository), the
requests it recorded, and the error GitHub answers with."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import Any

from tests.support.gitrepos import BareRepo


class ApiError(Exception):
    def __init__(self, status: int, message: str, errors: list | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorized: bool


@dataclass
class StandinRepo:
    full_name: str
    bare: BareRepo
    id: int
    default_branch: str = "main"
    private: bool = False
    description: str = ""

    @property
    def owner(self) -> str:
        return self.full_name.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.full_name.split("/", 1)[1]

    def commit(self, files: dict[str, str | bytes | None], *, message="change", branch=None) -> str:
        return self.bare.commit(files, message=message, branch=branch or self.default_branch)

    def git(self, *args: str, input: bytes | None = None, env: dict | None = None) -> str:
        proc = subprocess.run(
            ["git", *args],
            cwd=self.bare.path,
            input=input,
            capture_output=True,
            env={
                **os.environ,
                "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_CONFIG_GLOBAL": "/dev/null",
                **(env or {}),
            },
            timeout=30,
        )
        if proc.returncode != 0:
            raise ApiError(422, f"git {args[0]} failed: {proc.stderr.decode(errors='replace')}")
        return proc.stdout.decode(errors="replace")

    def git_bytes(self, *args: str) -> bytes:
        proc = subprocess.run(["git", *args], cwd=self.bare.path, capture_output=True, timeout=30)
        if proc.returncode != 0:
            raise ApiError(404, "Not Found")
        return proc.stdout

    def rev(self, name: str) -> str | None:
        proc = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", name],
            cwd=self.bare.path,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return proc.stdout.strip() if proc.returncode == 0 else None

    def branches(self) -> dict[str, str]:
        out = self.git("for-each-ref", "--format=%(refname:strip=2) %(objectname)", "refs/heads")
        return dict(line.split(" ", 1) for line in out.splitlines() if line)
