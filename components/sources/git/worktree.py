"""Reading a fetched repository: commit messages, tree listings, blobs, a checkout."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .commands import DEFAULT_TIMEOUT, run_git
from .errors import GitError


@contextmanager
def scratch_dir(prefix: str = "chorus-git-") -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def commit_message(repo_dir: Path, sha: str) -> str:
    return run_git(["log", "-1", "--format=%s", sha], cwd=repo_dir, timeout=30).strip()


def path_kind(repo_dir: Path, sha: str, path: str) -> str | None:
    """'tree', 'blob' or None when `path` does not exist at `sha` ('' is the root)."""
    if not path:
        return "tree"
    try:
        return run_git(["cat-file", "-t", f"{sha}:{path}"], cwd=repo_dir, timeout=30).strip()
    except GitError:
        return None


def list_dir(repo_dir: Path, sha: str, path: str) -> list[str]:
    """Names directly inside `path` at `sha` (directories end with '/')."""
    spec = f"{sha}:{path}" if path else f"{sha}^{{tree}}"
    out = run_git(["ls-tree", spec], cwd=repo_dir, timeout=30)
    names = []
    for line in out.splitlines():
        meta, name = line.split("\t", 1)
        names.append(name + "/" if meta.split()[1] == "tree" else name)
    return sorted(names)


def read_blob(repo_dir: Path, sha: str, path: str, *, max_bytes: int = 200_000) -> str | None:
    try:
        data = run_git(["cat-file", "blob", f"{sha}:{path}"], cwd=repo_dir, timeout=30)
    except GitError:
        return None
    return data[:max_bytes]


def checkout(repo_dir: Path, sha: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
    run_git(["checkout", "-q", "--detach", sha], cwd=repo_dir, timeout=timeout, what="git checkout")
