"""A stand-in for the GitHub REST API, for tests (GitHub itself cannot be reached here).

A threaded http.server on 127.0.0.1 answering the endpoints PyGitHub calls with GitHub's
documented JSON shapes (docs.github.com/rest: users, repos, branches, contents, git data,
pulls), including `Link` pagination and GitHub's error bodies. Every repository is backed by a
real bare git repository: branches, contents, blobs, trees, commits and refs are read and
written with git plumbing, and `clone_url` is that repository's file:// URL, so real git can
clone what the API shows (and what a pull request branch holds).

    with GitHubStandin(token="ghp_test", login="octo") as gh:
        repo = gh.add_repo("octo/tasks")          # an empty bare repo under a temp dir
        repo.commit({"main.py": "print(1)\\n"})   # a commit on main, made with the git CLI
        Github(base_url=gh.base_url, auth=Auth.Token("ghp_test")).get_user().get_repos()
        gh.requests                                # what was asked, for assertions
        gh.pulls["octo/tasks"]                     # pull requests opened

Requests without `Authorization: token <token>` (or Bearer) get 401 "Bad credentials".

- `repos`: StandinRepo (a bare repository and what the API says of it), Recorded, ApiError;
- `shapes`: the JSON of users, repositories, commits, refs, branches, contents, pulls;
- `routes`: which endpoint a request is, reads, pagination;
- `writes`: contents, git data and pull requests written with git plumbing;
- `server`: the HTTP request handler.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path

from tests.support.gitrepos import BareRepo

from .repos import ApiError, Recorded, StandinRepo
from .routes import Routes
from .server import DOCS, StandinHandler
from .shapes import JsonShapes
from .writes import GitWrites

__all__ = ["DOCS", "ApiError", "GitHubStandin", "Recorded", "StandinRepo"]


@dataclass
class GitHubStandin(Routes, GitWrites, JsonShapes):
    token: str = "ghp_standin_token"
    login: str = "octocat"
    root: Path | None = None
    # True: clone_url is http://<stand-in>/git/<owner>/<repo>.git, served by `git http-backend`
    # and requiring the token as HTTP Basic auth, as GitHub does. False: the file:// URL.
    git_over_http: bool = False
    repos: dict[str, StandinRepo] = field(default_factory=dict)
    pulls: dict[str, list[dict]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    host: str = "127.0.0.1"  # another loopback address (127.0.0.2) to tell apart who was reached

    def __post_init__(self) -> None:
        self._own_root = self.root is None
        self.root = Path(self.root or tempfile.mkdtemp(prefix="github-standin-"))
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> GitHubStandin:
        standin = self

        class Handler(StandinHandler):
            pass

        Handler.standin = standin
        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> GitHubStandin:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- fixtures -----------------------------------------------------------------------
    def add_repo(
        self,
        full_name: str,
        *,
        bare: BareRepo | None = None,
        default_branch: str = "main",
        private: bool = False,
        description: str = "",
    ) -> StandinRepo:
        if bare is None:
            bare = BareRepo.create(self.root / f"{full_name}.git", default_branch=default_branch)
        repo = StandinRepo(
            full_name=full_name,
            bare=bare,
            id=1000 + len(self.repos),
            default_branch=default_branch,
            private=private,
            description=description,
        )
        self.repos[full_name] = repo
        self.pulls.setdefault(full_name, [])
        return repo

    def requests_to(self, method: str, path_pattern: str) -> list[Recorded]:
        rx = re.compile(path_pattern)
        with self._lock:
            return [r for r in self.requests if r.method == method and rx.fullmatch(r.path)]
