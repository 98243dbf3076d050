"""Real git repositories for tests: a bare repository in tmp_path, commits made with the git CLI.

repo = BareRepo.create(tmp_path / "tasks.git")
sha = repo.commit({"main.py": "print('hi')\n"}, message="first", branch="main")
repo.url  # "file:///.../tasks.git"
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
}


def git(*args: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **_GIT_ENV},
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


@dataclass(frozen=True)
class Symlink:
    """A file of BareRepo.commit that is a symbolic link to `target` (committed as a link)."""

    target: str


@dataclass
class BareRepo:
    path: Path

    @classmethod
    def create(cls, path: Path, default_branch: str = "main") -> BareRepo:
        path.parent.mkdir(parents=True, exist_ok=True)
        git("init", "-q", "--bare", f"--initial-branch={default_branch}", str(path))
        return cls(path)

    @property
    def url(self) -> str:
        return self.path.resolve().as_uri()

    def commit(
        self,
        files: dict[str, str | bytes | Symlink | None],
        *,
        message: str = "change",
        branch: str = "main",
    ) -> str:
        """Commit `files` (None deletes) on top of `branch` (created if missing); return the SHA."""
        with tempfile.TemporaryDirectory(prefix="chorus-test-work-") as tmp:
            work = Path(tmp)
            git("init", "-q", str(work))
            heads = git("ls-remote", "--heads", self.url, branch, cwd=work)
            if heads.strip():
                git("fetch", "-q", self.url, branch, cwd=work)
                git("checkout", "-q", "-B", branch, "FETCH_HEAD", cwd=work)
            else:
                git("checkout", "-q", "--orphan", branch, cwd=work)
            for name, content in files.items():
                target = work / name
                if content is None:
                    target.unlink(missing_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(content, Symlink):
                    target.unlink(missing_ok=True)
                    target.symlink_to(content.target)
                elif isinstance(content, bytes):
                    target.write_bytes(content)
                else:
                    target.write_text(content)
            git("add", "-A", cwd=work)
            git("commit", "-q", "--allow-empty", "-m", message, cwd=work)
            git("push", "-q", self.url, f"HEAD:refs/heads/{branch}", cwd=work)
            return git("rev-parse", "HEAD", cwd=work).strip()

    def head(self, branch: str = "main") -> str:
        return git("rev-parse", f"refs/heads/{branch}", cwd=self.path).strip()

    def show(self, ref: str, path: str) -> str:
        return git("show", f"{ref}:{path}", cwd=self.path)
