"""Talking to a remote: its refs (ls-remote) and one commit of it (a shallow fetch)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from .commands import DEFAULT_TIMEOUT, Auth, run_git
from .errors import GitError
from .pinning import pin_remote

SHA_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


def ls_remote(url: str, *, auth: Auth | None = None, timeout: float = 60) -> dict[str, str]:
    """All refs of the remote: {"HEAD": sha, "refs/heads/main": sha, ...} (tags peeled)."""
    remote = pin_remote(url)
    out = run_git(
        [*remote.args(), "ls-remote", "--", remote.url],
        auth=auth,
        timeout=timeout,
        what="git ls-remote",
    )
    refs: dict[str, str] = {}
    for line in out.splitlines():
        if "\t" not in line:
            continue
        sha, name = line.split("\t", 1)
        if name.endswith("^{}"):
            # The peeled commit of an annotated tag wins over the tag object.
            refs[name[:-3]] = sha
        else:
            refs.setdefault(name, sha)
    return refs


def branches_of(refs: dict[str, str]) -> list[str]:
    return sorted(n[len("refs/heads/") :] for n in refs if n.startswith("refs/heads/"))


def match_ref(refs: dict[str, str], ref: str) -> str | None:
    """The commit `ref` names: a branch, a tag, a full ref name, or HEAD when empty."""
    ref = ref.strip()
    if not ref or ref == "HEAD":
        return refs.get("HEAD")
    candidates = [ref] if ref.startswith("refs/") else [f"refs/heads/{ref}", f"refs/tags/{ref}"]
    for candidate in candidates:
        if candidate in refs:
            return refs[candidate]
    return None


def fetch_commit(
    url: str,
    sha_or_ref: str,
    repo_dir: Path,
    *,
    auth: Auth | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    log: Callable[[str], None] | None = None,
) -> str:
    """Init `repo_dir` and fetch one commit into it (shallow when the server allows).

    Returns the full commit SHA. A server that refuses fetching a SHA directly gets a full
    fetch of its branches and tags, then the commit is looked up locally.
    """
    remote = pin_remote(url)  # once: both fetches below go to the same checked addresses
    repo_dir.mkdir(parents=True, exist_ok=True)
    run_git(["init", "-q", str(repo_dir)], timeout=30, what="git init")
    try:
        run_git(
            [
                *remote.args(),
                "fetch",
                "-q",
                "--depth",
                "1",
                "--no-tags",
                "--",
                remote.url,
                sha_or_ref,
            ],
            cwd=repo_dir,
            auth=auth,
            timeout=timeout,
            what="Fetching the commit",
        )
        target = "FETCH_HEAD"
    except GitError:
        if not SHA_RE.match(sha_or_ref):
            raise
        if log:
            log("The server refused a shallow fetch of one commit; fetching the branches instead")
        run_git(
            [
                *remote.args(),
                "fetch",
                "-q",
                "--no-tags",
                "--",
                remote.url,
                "+refs/heads/*:refs/remotes/origin/*",
                "+refs/tags/*:refs/tags/*",
            ],
            cwd=repo_dir,
            auth=auth,
            timeout=timeout,
            what="Fetching the repository",
        )
        target = sha_or_ref
    try:
        return run_git(
            ["rev-parse", "--verify", "--quiet", f"{target}^{{commit}}"],
            cwd=repo_dir,
            timeout=30,
            what="Finding the commit",
        ).strip()
    except GitError:
        raise GitError(f"Commit {sha_or_ref} is not in the repository") from None
