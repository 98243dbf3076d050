"""Where a component's code comes from: resolve a branch to a commit, fetch that exact commit.

Three kinds of source (Component.source_kind):
- git: any URL git understands, fetched with real git (local URLs only when
  settings.CHORUS_ALLOW_LOCAL_GIT_URLS);
- github: a repository of a GitHubConnection; its clone URL comes from the API
  (`clone_url`), and git authenticates with the connection's token;
- sample: a built-in sample tree (components/samples/<key>/); its "commit" is a content hash,
  so a rebuild of an unchanged sample is recognised as the same commit.

Builds call `source_resolve` when a build is queued and `source_fetch` in the worker.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import ValidationError

from . import git
from .git import GitError, validate_git_url

__all__ = [
    "Inspection",
    "Resolved",
    "SourceError",
    "sample_digest",
    "source_fetch",
    "source_inspect",
    "source_resolve",
    "validate_git_url",
]

# Files worth reading for preset detection (small, at the task's path).
DETECTION_FILES = ("chorus.toml", "pyproject.toml", "setup.cfg", "Dockerfile")
_SKIP_PARTS = {"__pycache__", ".pytest_cache", ".git", ".mypy_cache", ".ruff_cache"}


class SourceError(Exception):
    """The source cannot be read; the message says why in words a user can act on.

    `field` names the component field at fault ("git_url", "branch", "path", ...) when known,
    so a form can put the message beside it.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Resolved:
    sha: str
    message: str


@dataclass(frozen=True)
class Inspection:
    """What is at the component's path: for the wizard's preset detection."""

    sha: str
    message: str
    names: list[str]  # entries directly inside the path; directories end with "/"
    files: dict[str, str] = field(default_factory=dict)  # contents of DETECTION_FILES present


def _log(log, text: str) -> None:
    if log is None:
        return
    try:
        log(text, "chorus")
    except TypeError:
        log(text)


# --- samples ------------------------------------------------------------------------------
def _sample(component):
    from components.samples import get_sample

    try:
        return get_sample(component.sample_key)
    except KeyError as exc:
        raise SourceError(
            f"There is no built-in sample “{component.sample_key}”.", field="sample_key"
        ) from exc


def _sample_files(root: Path) -> list[Path]:
    files = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if any(part in _SKIP_PARTS for part in rel.parts) or p.name.endswith(".pyc"):
            continue
        if p.is_file():
            files.append(p)
    return files


def sample_digest(root: Path) -> str:
    """'sample-' + sha256 over the sorted relative paths and contents (64 characters)."""
    h = hashlib.sha256()
    for p in _sample_files(root):
        rel = p.relative_to(root).as_posix().encode()
        data = p.read_bytes()
        h.update(len(rel).to_bytes(4, "big") + rel)
        h.update(len(data).to_bytes(8, "big") + data)
    return "sample-" + h.hexdigest()[:57]


# --- git remotes --------------------------------------------------------------------------
def _remote(component) -> tuple[str, git.Auth | None, str]:
    """(url, auth, display name) of a git or GitHub component."""
    if component.source_kind == "git":
        try:
            url = validate_git_url(component.git_url)
        except ValidationError as exc:
            raise SourceError(" ".join(exc.messages), field="git_url") from exc
        return url, None, url
    if component.source_kind == "github":
        from components import github as gh

        connection = component.github_connection
        if connection is None:
            raise SourceError(
                f"The GitHub connection of {component.repository} was removed; "
                "connect a GitHub account and edit the component.",
                field="github_connection",
            )
        try:
            info = gh.repository(connection, component.repository)
            token = gh.connection_token(connection)
        except gh.GitHubError as exc:
            raise SourceError(str(exc), field="repository") from exc
        try:
            url = validate_git_url(info.clone_url)
        except ValidationError as exc:
            raise SourceError(
                f"GitHub gave the clone URL {git.strip_credentials(info.clone_url)!r}, which "
                "is refused: " + " ".join(exc.messages),
                field="repository",
            ) from exc
        auth = None if git.is_local_url(url) else git.Auth("x-access-token", token)
        return url, auth, component.repository
    raise SourceError(f"Unknown source kind {component.source_kind!r}")


def _resolve_ref(url: str, auth, name: str, ref: str) -> str:
    if git.SHA_RE.match(ref.strip()):
        return ref.strip()
    try:
        refs = git.ls_remote(url, auth=auth)
    except GitError as exc:
        raise SourceError(f"Cannot reach the repository {name}: {exc}", field="url") from exc
    sha = git.match_ref(refs, ref)
    if sha is None:
        if not ref.strip():
            raise SourceError(
                f"The repository {name} is empty (it has no default branch).", field="branch"
            )
        known = git.branches_of(refs)
        hint = f" Branches: {', '.join(known[:10])}." if known else " It has no branches."
        raise SourceError(f"Branch or ref “{ref}” does not exist in {name}.{hint}", field="branch")
    return sha


def _path(component) -> str:
    try:
        return git.normalize_path(component.path)
    except ValidationError as exc:
        raise SourceError(" ".join(exc.messages), field="path") from exc


def _check_path(repo_dir: Path, sha: str, path: str, name: str) -> None:
    kind = git.path_kind(repo_dir, sha, path)
    if kind is None:
        raise SourceError(
            f"The path “{path}” does not exist in {name} at {sha[:12]}.", field="path"
        )
    if kind != "tree":
        raise SourceError(
            f"The path “{path}” in {name} is a file; choose a directory.", field="path"
        )


def _refuse_links_out(checkout: Path, build_dir: Path) -> None:
    """Refuse a symbolic link in `build_dir` that points outside `checkout`.

    Chorus writes (the Python preset's Dockerfile) and reads (Dockerfile, chorus.toml,
    requirements.txt, pyproject.toml, the entry file) files of the checkout, and git checks
    out links as links: following one would write or read the worker's own files. A link
    inside the checkout is fine; a dangling one pointing out is refused too (a write would
    create its target)."""
    root = Path(os.path.realpath(checkout))
    for dirpath, dirnames, filenames in os.walk(build_dir):
        for name in sorted([*dirnames, *filenames]):
            path = Path(dirpath) / name
            if not path.is_symlink():
                continue
            target = Path(os.path.realpath(path))
            if target != root and root not in target.parents:
                rel = path.relative_to(checkout).as_posix()
                raise SourceError(
                    f"“{rel}” is a symbolic link to “{os.readlink(path)}”, outside the "
                    "repository: Chorus never follows a link out of a checkout. Commit the "
                    "file itself (or a link to a file inside the repository)."
                )


# --- the contract -------------------------------------------------------------------------
def source_resolve(*, component) -> Resolved:
    """The commit the component's branch/ref points at now, with its subject line.

    Also checks that the component's path exists at that commit, so a build fails early.
    """
    if component.source_kind == "sample":
        sample = _sample(component)
        return Resolved(sha=sample_digest(sample.path), message=f"Built-in sample {sample.title}")
    url, auth, name = _remote(component)
    path = _path(component)
    sha = _resolve_ref(url, auth, name, component.branch)
    with git.scratch_dir() as tmp:
        try:
            sha = git.fetch_commit(url, sha, tmp / "repo", auth=auth)
            message = git.commit_message(tmp / "repo", sha)
        except GitError as exc:
            raise SourceError(f"Cannot fetch {name}: {exc}") from exc
        _check_path(tmp / "repo", sha, path, name)
    return Resolved(sha=sha, message=message[:300])


def source_fetch(*, component, sha: str, dest: Path, log: Callable | None = None) -> Path:
    """Put the source at exactly `sha` in `dest`; return the directory to build.

    That is dest/<component.path>. `dest` must not exist or be empty. The checkout has no
    `.git` directory: the build context is just the tree.
    """
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise SourceError(f"{dest} is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    if component.source_kind == "sample":
        sample = _sample(component)
        digest = sample_digest(sample.path)
        if digest != sha:
            raise SourceError(
                f"The built-in sample “{sample.key}” changed since {sha[:19]} was resolved "
                f"(now {digest[:19]}); queue a new build."
            )
        _log(log, f"Copying the built-in sample “{sample.key}” ({sha[:19]})")
        for p in _sample_files(sample.path):
            target = dest / p.relative_to(sample.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, target)
        return dest
    url, auth, name = _remote(component)
    path = _path(component)
    _log(log, f"Fetching {name} at {sha}")
    try:
        got = git.fetch_commit(url, sha, dest, auth=auth, log=lambda t: _log(log, t))
        if got != sha and not got.startswith(sha):
            raise SourceError(f"{name}: asked for commit {sha}, got {got}")
        _check_path(dest, got, path, name)
        git.checkout(dest, got)
    except GitError as exc:
        raise SourceError(f"Cannot fetch {name} at {sha[:12]}: {exc}") from exc
    shutil.rmtree(dest / ".git", ignore_errors=True)
    _log(log, f"Checked out {got[:12]}" + (f", building “{path}”" if path else ""))
    build_dir = dest / path if path else dest
    _refuse_links_out(dest, build_dir)
    return build_dir


def source_inspect(*, component) -> Inspection:
    """What the component's path contains at its branch's head (for preset detection).

    GitHub sources are read through the API (contents), others through git / the sample tree.
    """
    if component.source_kind == "sample":
        sample = _sample(component)
        names = sorted(
            p.name + "/" if p.is_dir() else p.name
            for p in sample.path.iterdir()
            if p.name not in _SKIP_PARTS
        )
        files = {
            n: (sample.path / n).read_text(errors="replace")
            for n in DETECTION_FILES
            if (sample.path / n).is_file()
        }
        return Inspection(
            sha=sample_digest(sample.path),
            message=f"Built-in sample {sample.title}",
            names=names,
            files=files,
        )
    path = _path(component)
    if component.source_kind == "github":
        from components import github as gh

        connection = component.github_connection
        if connection is None:
            raise SourceError("Choose a GitHub connection.", field="github_connection")
        try:
            names = gh.list_dir(connection, component.repository, component.branch, path)
            files = {}
            for n in DETECTION_FILES:
                if n in names:
                    text = gh.read_file(
                        connection,
                        component.repository,
                        component.branch,
                        f"{path}/{n}" if path else n,
                    )
                    if text is not None:
                        files[n] = text
        except gh.GitHubError as exc:
            raise SourceError(
                str(exc), field="path" if "path" in str(exc) else "repository"
            ) from exc
        return Inspection(sha="", message="", names=names, files=files)
    url, auth, name = _remote(component)
    sha = _resolve_ref(url, auth, name, component.branch)
    with git.scratch_dir() as tmp:
        repo = tmp / "repo"
        try:
            sha = git.fetch_commit(url, sha, repo, auth=auth)
            message = git.commit_message(repo, sha)
            _check_path(repo, sha, path, name)
            names = git.list_dir(repo, sha, path)
        except GitError as exc:
            raise SourceError(f"Cannot read {name}: {exc}") from exc
        files = {}
        for n in DETECTION_FILES:
            if n in names:
                text = git.read_blob(repo, sha, f"{path}/{n}" if path else n)
                if text is not None:
                    files[n] = text
    return Inspection(sha=sha, message=message, names=names, files=files)
