"""GitHub through PyGitHub: accounts, repositories, branches, file listings, sample PRs.

The API base URL is per connection (GitHub Enterprise: https://ghe.example.com/api/v3),
defaulting to settings.CHORUS_GITHUB_API_URL. Like git URLs, an API URL whose host is, or
resolves to, a loopback, private or link-local address is refused unless
CHORUS_ALLOW_LOCAL_GIT_URLS. Errors become `GitHubError` with a message a
user can act on; tokens never appear in them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import github
from django.conf import settings
from django.core.exceptions import ValidationError
from github import Auth, Github, GithubException
from github.Requester import (
    HTTPRequestsConnectionClass,
    HTTPSRequestsConnectionClass,
    Requester,
)
from requests.exceptions import RequestException

from portal import crypto, outbound

from .models import GitHubConnection
from .sources import git

TIMEOUT = 15


class GitHubError(Exception):
    """A GitHub API call failed; the message is user-facing."""


def validate_api_url(url: str, *, check_host: bool = True) -> str:
    """The stripped API URL, or ValidationError: http(s) only, and (without
    CHORUS_ALLOW_LOCAL_GIT_URLS) no host on the server's own network, which a user could
    otherwise make Chorus call with a token it chose (cloud metadata, internal services).
    check_host=False checks the form only: each connection checks its host (below)."""
    u = (url or "").strip().rstrip("/")
    try:
        parts = urlsplit(u)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        host = None
    if parts.scheme.lower() not in ("https", "http") or not host:
        raise ValidationError(
            "Enter the GitHub API URL, like https://api.github.com or https://<host>/api/v3.",
            code="invalid",
        )
    if check_host:
        _checked_api_host(host)
    return u


def _checked_api_host(host: str) -> list:
    if getattr(settings, "CHORUS_ALLOW_LOCAL_GIT_URLS", False):
        try:
            return outbound.check_host(host, allow_private=True)
        except outbound.Refused as exc:
            raise ValidationError(f"{exc} Check the host name in the API URL.") from None
    return git.checked_addresses(host, what="GitHub API host", things="APIs", field="API URL")


def _pinned(connection_class):
    """PyGitHub's connection class, checking its host when created (once per request: see
    `client`) and connecting to the addresses it checked, never resolving the name again."""

    class Pinned(connection_class):
        def __init__(self, host: str, *args, **kwargs) -> None:
            super().__init__(host, *args, **kwargs)
            try:
                addresses = _checked_api_host(host)
            except ValidationError as exc:
                raise GitHubError(" ".join(exc.messages)) from None
            outbound.pin(
                self.session,
                host,
                addresses,
                max_retries=self.retry,
                pool_connections=self.pool_size,
                pool_maxsize=self.pool_size,
            )

    Pinned.__name__ = f"Pinned{connection_class.__name__}"
    return Pinned


def pin_github_connections() -> None:
    """Make every PyGitHub request of this process go through `_pinned` connections.

    PyGitHub builds its requests sessions inside its own connection classes; swapping those
    classes (its public hook) is the one place every request passes. It also turns off the
    reuse of a connection between requests, so each request checks its host again.
    Called once from ComponentsConfig.ready()."""
    Requester.injectConnectionClasses(
        _pinned(HTTPRequestsConnectionClass), _pinned(HTTPSRequestsConnectionClass)
    )


def client(*, base_url: str | None = None, token: str) -> Github:
    try:
        url = validate_api_url(base_url or settings.CHORUS_GITHUB_API_URL, check_host=False)
    except ValidationError as exc:
        raise GitHubError(" ".join(exc.messages)) from None
    return Github(
        base_url=url,
        auth=Auth.Token(token),
        timeout=TIMEOUT,
        # Fail fast with a readable message instead of retrying for minutes in a web request.
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
        user_agent="Chorus",
    )


def connection_client(connection: GitHubConnection) -> Github:
    return client(base_url=connection.base_url, token=connection_token(connection))


def connection_token(connection: GitHubConnection) -> str:
    try:
        return crypto.decrypt(connection.token_encrypted)
    except crypto.DecryptionError as exc:
        raise GitHubError(
            f"The token of the GitHub connection {connection.login} cannot be decrypted; "
            "connect the account again."
        ) from exc


def explain(exc: Exception, *, what: str) -> GitHubError:
    """A readable GitHubError for a PyGitHub / requests failure."""
    if isinstance(exc, GithubException):
        status = exc.status
        message = ""
        if isinstance(exc.data, dict):
            message = str(exc.data.get("message") or "")
        if status == 401:
            return GitHubError(f"{what}: GitHub rejected the token (401 {message}).".strip())
        if status == 403:
            return GitHubError(
                f"{what}: the token is not allowed to do this (403 {message}).".replace(" )", ")")
            )
        if status == 404:
            return GitHubError(
                f"{what}: not found (404) — check the name, or that the token can see it."
            )
        if status == 409 or status == 422:
            return GitHubError(f"{what}: GitHub refused it ({status} {message}).")
        return GitHubError(f"{what}: GitHub answered {status} {message}".strip())
    if isinstance(exc, RequestException | OSError):
        return GitHubError(f"{what}: the GitHub API cannot be reached ({type(exc).__name__}).")
    return GitHubError(f"{what}: {exc}")


@dataclass(frozen=True)
class RepoInfo:
    full_name: str
    default_branch: str
    clone_url: str
    private: bool
    description: str


def _repo_info(repo) -> RepoInfo:
    return RepoInfo(
        full_name=repo.full_name,
        default_branch=repo.default_branch or "main",
        clone_url=repo.clone_url,
        private=bool(repo.private),
        description=repo.description or "",
    )


def account_login(*, base_url: str | None, token: str) -> str:
    """The login the token belongs to (GET /user): proves the token works."""
    try:
        return client(base_url=base_url, token=token).get_user().login
    except GitHubError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message
        raise explain(exc, what="Checking the token") from exc


def repositories(connection: GitHubConnection, *, limit: int = 300) -> list[RepoInfo]:
    """Repositories the account can see (GET /user/repos), newest push first."""
    try:
        gh = connection_client(connection)
        out = []
        for repo in gh.get_user().get_repos(sort="pushed"):
            out.append(_repo_info(repo))
            if len(out) >= limit:
                break
        return out
    except GitHubError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise explain(exc, what="Listing repositories") from exc


def repository(connection: GitHubConnection, full_name: str) -> RepoInfo:
    try:
        return _repo_info(connection_client(connection).get_repo(full_name))
    except GitHubError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise explain(exc, what=f"Reading repository {full_name}") from exc


def branches(connection: GitHubConnection, full_name: str) -> list[str]:
    try:
        repo = connection_client(connection).get_repo(full_name)
        return sorted(b.name for b in repo.get_branches())
    except GitHubError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise explain(exc, what=f"Listing branches of {full_name}") from exc


def list_dir(connection: GitHubConnection, full_name: str, ref: str, path: str) -> list[str]:
    """Names inside `path` at `ref` (directories end with '/'); GitHubError if it is missing."""
    try:
        repo = connection_client(connection).get_repo(full_name)
        contents = repo.get_contents(path or "", ref=ref)
    except GitHubError:
        raise
    except GithubException as exc:
        if exc.status == 404:
            where = f"“{path}”" if path else "the repository root"
            raise GitHubError(
                f"The path {where} does not exist on branch {ref} of {full_name}."
            ) from exc
        raise explain(exc, what=f"Reading {full_name}") from exc
    except Exception as exc:  # noqa: BLE001
        raise explain(exc, what=f"Reading {full_name}") from exc
    if not isinstance(contents, list):
        raise GitHubError(f"“{path}” is a file in {full_name}; choose a directory.")
    return sorted(c.name + "/" if c.type == "dir" else c.name for c in contents)


def read_file(connection: GitHubConnection, full_name: str, ref: str, path: str) -> str | None:
    try:
        repo = connection_client(connection).get_repo(full_name)
        content = repo.get_contents(path, ref=ref)
    except GithubException as exc:
        if exc.status == 404:
            return None
        raise explain(exc, what=f"Reading {path} in {full_name}") from exc
    except GitHubError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise explain(exc, what=f"Reading {path} in {full_name}") from exc
    if isinstance(content, list):
        return None
    try:
        return content.decoded_content.decode("utf-8", errors="replace")
    except Exception:  # noqa: BLE001 - an undecodable file is simply not read
        return None


@dataclass(frozen=True)
class PullRequest:
    url: str
    number: int
    branch: str


def open_sample_pull_request(
    connection: GitHubConnection,
    full_name: str,
    *,
    base_branch: str,
    branch: str,
    files: dict[str, bytes],
    title: str,
    body: str,
    commit_message: str,
) -> PullRequest:
    """Create `branch` from `base_branch`, commit `files` in one commit, open a PR.

    Uses the Git Data API (blobs → tree → commit → ref) so the sample lands as one commit
    whatever its number of files.
    """
    try:
        repo = connection_client(connection).get_repo(full_name)
        base_ref = repo.get_git_ref(f"heads/{base_branch}")
        base_commit = repo.get_git_commit(base_ref.object.sha)
        elements = []
        for path, data in sorted(files.items()):
            blob = repo.create_git_blob(_b64(data), "base64")
            mode = "100755" if path.endswith(".sh") else "100644"
            elements.append(github.InputGitTreeElement(path, mode, "blob", sha=blob.sha))
        tree = repo.create_git_tree(elements, base_commit.tree)
        commit = repo.create_git_commit(commit_message, tree, [base_commit])
        repo.create_git_ref(f"refs/heads/{branch}", commit.sha)
        pr = repo.create_pull(base=base_branch, head=branch, title=title, body=body)
        return PullRequest(url=pr.html_url, number=pr.number, branch=branch)
    except GitHubError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise explain(exc, what=f"Opening the pull request in {full_name}") from exc


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def tree_files(root: Path, prefix: str = "") -> dict[str, bytes]:
    """Files under `root` as {"prefix/relative/path": bytes}, skipping caches."""
    out: dict[str, bytes] = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if any(part in ("__pycache__", ".pytest_cache", ".git") for part in rel.parts):
            continue
        if p.is_file() and not p.name.endswith(".pyc"):
            key = f"{prefix.strip('/')}/{rel.as_posix()}" if prefix.strip("/") else rel.as_posix()
            out[key] = p.read_bytes()
    return out
