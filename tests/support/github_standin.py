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
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.parse
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.gitrepos import BareRepo

DOCS = "https://docs.github.com/rest"


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


@dataclass
class GitHubStandin:
    token: str = "ghp_standin_token"
    login: str = "octocat"
    root: Path | None = None
    # True: clone_url is http://<stand-in>/git/<owner>/<repo>.git, served by `git http-backend`
    # and requiring the token as HTTP Basic auth, as GitHub does. False: the file:// URL.
    git_over_http: bool = False
    repos: dict[str, StandinRepo] = field(default_factory=dict)
    pulls: dict[str, list[dict]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._own_root = self.root is None
        self.root = Path(self.root or tempfile.mkdtemp(prefix="github-standin-"))
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> GitHubStandin:
        standin = self

        class Handler(_Handler):
            pass

        Handler.standin = standin
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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

    # --- JSON shapes --------------------------------------------------------------------
    def user_json(self) -> dict:
        b = self.base_url
        return {
            "login": self.login,
            "id": 1,
            "node_id": "MDQ6VXNlcjE=",
            "avatar_url": f"{b}/avatars/{self.login}",
            "url": f"{b}/users/{self.login}",
            "html_url": f"{b}/{self.login}",
            "repos_url": f"{b}/users/{self.login}/repos",
            "type": "User",
            "site_admin": False,
            "name": self.login.title(),
        }

    def repo_json(self, repo: StandinRepo) -> dict:
        b = self.base_url
        api = f"{b}/repos/{repo.full_name}"
        owner = {**self.user_json(), "login": repo.owner, "url": f"{b}/users/{repo.owner}"}
        return {
            "id": repo.id,
            "node_id": f"R_{repo.id}",
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": owner,
            "private": repo.private,
            "html_url": f"{b}/{repo.full_name}",
            "description": repo.description or None,
            "fork": False,
            "url": api,
            "branches_url": f"{api}/branches{{/branch}}",
            "contents_url": f"{api}/contents/{{+path}}",
            "git_refs_url": f"{api}/git/refs{{/sha}}",
            "pulls_url": f"{api}/pulls{{/number}}",
            "git_url": f"git://127.0.0.1/{repo.full_name}.git",
            "ssh_url": f"git@127.0.0.1:{repo.full_name}.git",
            # Real git can clone this: the backing bare repository.
            "clone_url": f"{b}/git/{repo.full_name}.git" if self.git_over_http else repo.bare.url,
            "default_branch": repo.default_branch,
            "visibility": "private" if repo.private else "public",
            "archived": False,
            "disabled": False,
            "pushed_at": "2024-01-01T00:00:00Z",
            "created_at": "2023-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
            "permissions": {"admin": True, "maintain": True, "push": True, "pull": True},
        }

    def commit_json(self, repo: StandinRepo, sha: str) -> dict:
        fmt = "%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B"
        out = repo.git("log", "-1", f"--format={fmt}", sha)
        h, tree, parents, an, ae, ad, cn, ce, cd, message = out.split("\x00", 9)
        api = f"{self.base_url}/repos/{repo.full_name}"
        return {
            "sha": h,
            "node_id": f"C_{h[:10]}",
            "url": f"{api}/git/commits/{h}",
            "html_url": f"{self.base_url}/{repo.full_name}/commit/{h}",
            "author": {"name": an, "email": ae, "date": _utc(ad)},
            "committer": {"name": cn, "email": ce, "date": _utc(cd)},
            "message": message.rstrip("\n"),
            "tree": {"sha": tree, "url": f"{api}/git/trees/{tree}"},
            "parents": [
                {
                    "sha": p,
                    "url": f"{api}/git/commits/{p}",
                    "html_url": f"{self.base_url}/{repo.full_name}/commit/{p}",
                }
                for p in parents.split()
            ],
            "verification": {
                "verified": False,
                "reason": "unsigned",
                "signature": None,
                "payload": None,
            },
        }

    def ref_json(self, repo: StandinRepo, ref: str, sha: str) -> dict:
        api = f"{self.base_url}/repos/{repo.full_name}"
        return {
            "ref": ref,
            "node_id": f"REF_{sha[:10]}",
            "url": f"{api}/git/{ref}",
            "object": {"type": "commit", "sha": sha, "url": f"{api}/git/commits/{sha}"},
        }

    def branch_json(self, repo: StandinRepo, name: str, sha: str, full: bool) -> dict:
        api = f"{self.base_url}/repos/{repo.full_name}"
        data: dict[str, Any] = {
            "name": name,
            "commit": {"sha": sha, "url": f"{api}/commits/{sha}"},
            "protected": False,
        }
        if full:
            data["commit"]["commit"] = self.commit_json(repo, sha)
            data["_links"] = {
                "self": f"{api}/branches/{name}",
                "html": f"{self.base_url}/{repo.full_name}/tree/{name}",
            }
            data["protection"] = {"enabled": False, "required_status_checks": None}
            data["protection_url"] = f"{api}/branches/{name}/protection"
        return data

    def content_json(
        self, repo: StandinRepo, ref: str, path: str, kind: str, sha: str, size: int
    ) -> dict:
        api = f"{self.base_url}/repos/{repo.full_name}"
        url = f"{api}/contents/{urllib.parse.quote(path)}?ref={urllib.parse.quote(ref)}"
        typ = {"blob": "file", "tree": "dir", "commit": "submodule"}[kind]
        html = (
            f"{self.base_url}/{repo.full_name}/{'blob' if typ == 'file' else 'tree'}/{ref}/{path}"
        )
        git_url = f"{api}/git/{'blobs' if typ == 'file' else 'trees'}/{sha}"
        return {
            "type": typ,
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": sha,
            "size": size,
            "url": url,
            "html_url": html,
            "git_url": git_url,
            "download_url": f"{self.base_url}/raw/{repo.full_name}/{ref}/{path}"
            if typ == "file"
            else None,
            "_links": {"self": url, "git": git_url, "html": html},
        }

    def pull_json(self, repo: StandinRepo, pr: dict) -> dict:
        api = f"{self.base_url}/repos/{repo.full_name}"
        n = pr["number"]
        repo_json = self.repo_json(repo)
        return {
            "id": 5000 + n,
            "node_id": f"PR_{n}",
            "number": n,
            "url": f"{api}/pulls/{n}",
            "html_url": f"{self.base_url}/{repo.full_name}/pull/{n}",
            "diff_url": f"{self.base_url}/{repo.full_name}/pull/{n}.diff",
            "state": pr["state"],
            "locked": False,
            "title": pr["title"],
            "body": pr["body"],
            "user": self.user_json(),
            "draft": pr["draft"],
            "merged": False,
            "mergeable": True,
            "created_at": pr["created_at"],
            "updated_at": pr["created_at"],
            "head": {
                "label": f"{repo.owner}:{pr['head']}",
                "ref": pr["head"],
                "sha": pr["head_sha"],
                "user": self.user_json(),
                "repo": repo_json,
            },
            "base": {
                "label": f"{repo.owner}:{pr['base']}",
                "ref": pr["base"],
                "sha": pr["base_sha"],
                "user": self.user_json(),
                "repo": repo_json,
            },
        }

    # --- routing ------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple:
        """(status, json, extra headers) for one request. Raises ApiError for GitHub errors."""
        if path == "/user" and method == "GET":
            return 200, self.user_json(), {}
        if path == "/user/repos" and method == "GET":
            items = [self.repo_json(r) for r in self.repos.values()]
            return self._page(path, query, items)
        m = re.fullmatch(r"/repos/([^/]+/[^/]+)(/.*)?", path)
        if not m:
            raise ApiError(404, "Not Found")
        full_name, rest = m.group(1), m.group(2) or ""
        repo = self.repos.get(full_name)
        if repo is None:
            raise ApiError(404, "Not Found")
        return self._repo_route(repo, method, rest, query, body)

    def _repo_route(self, repo, method, rest, query, body) -> tuple:
        if rest == "" and method == "GET":
            return 200, self.repo_json(repo), {}
        if rest == "/branches" and method == "GET":
            items = [
                self.branch_json(repo, name, sha, full=False)
                for name, sha in sorted(repo.branches().items())
            ]
            return self._page(f"/repos/{repo.full_name}/branches", query, items)
        m = re.fullmatch(r"/branches/(.+)", rest)
        if m and method == "GET":
            name = urllib.parse.unquote(m.group(1))
            sha = repo.branches().get(name)
            if sha is None:
                raise ApiError(404, "Branch not found")
            return 200, self.branch_json(repo, name, sha, full=True), {}
        m = re.fullmatch(r"/contents(?:/(.*))?", rest)
        if m:
            path = urllib.parse.unquote(m.group(1) or "").strip("/")
            if method == "GET":
                return self._get_contents(repo, path, query.get("ref") or repo.default_branch)
            if method == "PUT":
                return self._put_contents(repo, path, body)
        m = re.fullmatch(r"/git/(?:ref|refs)/(.+)", rest)
        if m and method == "GET":
            ref = "refs/" + urllib.parse.unquote(m.group(1))
            sha = (
                repo.rev(ref)
                if ref.startswith("refs/heads/") or ref.startswith("refs/tags/")
                else None
            )
            if sha is None:
                raise ApiError(404, "Not Found")
            return 200, self.ref_json(repo, ref, sha), {}
        if m and method == "PATCH":
            ref = "refs/" + urllib.parse.unquote(m.group(1))
            return self._update_ref(repo, ref, body)
        if rest == "/git/refs" and method == "GET":
            items = [
                self.ref_json(repo, f"refs/heads/{n}", s)
                for n, s in sorted(repo.branches().items())
            ]
            return 200, items, {}
        if rest == "/git/refs" and method == "POST":
            return self._create_ref(repo, body)
        m = re.fullmatch(r"/git/commits/([0-9a-f]{40})", rest)
        if m and method == "GET":
            if repo.rev(f"{m.group(1)}^{{commit}}") is None:
                raise ApiError(404, "Not Found")
            return 200, self.commit_json(repo, m.group(1)), {}
        if rest == "/git/blobs" and method == "POST":
            return self._create_blob(repo, body)
        if rest == "/git/trees" and method == "POST":
            return self._create_tree(repo, body)
        if rest == "/git/commits" and method == "POST":
            return self._create_commit(repo, body)
        if rest == "/pulls" and method == "POST":
            return self._create_pull(repo, body)
        if rest == "/pulls" and method == "GET":
            state = query.get("state", "open")
            items = [
                self.pull_json(repo, pr)
                for pr in self.pulls[repo.full_name]
                if state == "all" or pr["state"] == state
            ]
            return self._page(f"/repos/{repo.full_name}/pulls", query, items)
        m = re.fullmatch(r"/pulls/(\d+)", rest)
        if m and method == "GET":
            for pr in self.pulls[repo.full_name]:
                if pr["number"] == int(m.group(1)):
                    return 200, self.pull_json(repo, pr), {}
            raise ApiError(404, "Not Found")
        raise ApiError(404, "Not Found")

    def _page(self, path: str, query: dict[str, str], items: list) -> tuple:
        per_page = max(1, min(100, int(query.get("per_page", 30))))
        page = max(1, int(query.get("page", 1)))
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if last > 1:
            keep = {k: v for k, v in query.items() if k not in ("page",)}

            def link(p: int, rel: str) -> str:
                q = urllib.parse.urlencode({**keep, "page": p})
                return f'<{self.base_url}{path}?{q}>; rel="{rel}"'

            links = []
            if page < last:
                links += [link(page + 1, "next"), link(last, "last")]
            if page > 1:
                links += [link(1, "first"), link(page - 1, "prev")]
            headers["Link"] = ", ".join(links)
        return 200, chunk, headers

    def _get_contents(self, repo: StandinRepo, path: str, ref: str) -> tuple:
        commit = repo.rev(f"{ref}^{{commit}}") or repo.rev(f"refs/heads/{ref}^{{commit}}")
        if commit is None:
            raise ApiError(404, f"No commit found for the ref {ref}")
        spec = f"{commit}:{path}" if path else f"{commit}^{{tree}}"
        kind = subprocess.run(
            ["git", "cat-file", "-t", spec], cwd=repo.bare.path, capture_output=True, text=True
        ).stdout.strip()
        if kind == "tree":
            items = []
            for line in repo.git("ls-tree", "-l", spec).splitlines():
                meta, name = line.split("\t", 1)
                _mode, typ, sha, size = meta.split()
                child = f"{path}/{name}" if path else name
                items.append(
                    self.content_json(
                        repo, ref, child, typ, sha, int(size) if size.isdigit() else 0
                    )
                )
            return 200, items, {}
        if kind == "blob":
            data = repo.git_bytes("cat-file", "blob", spec)
            sha = repo.git("rev-parse", spec).strip()
            out = self.content_json(repo, ref, path, "blob", sha, len(data))
            encoded = base64.b64encode(data).decode()
            # GitHub wraps base64 content at 60 characters per line.
            out["content"] = "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60))
            out["encoding"] = "base64"
            return 200, out, {}
        raise ApiError(404, "Not Found")

    def _put_contents(self, repo: StandinRepo, path: str, body: dict) -> tuple:
        branch = body.get("branch") or repo.default_branch
        parent = repo.branches().get(branch)
        data = base64.b64decode(body["content"])
        blob = repo.git("hash-object", "-w", "--stdin", input=data).strip()
        existing = repo.rev(f"{parent}:{path}") if parent else None
        if existing and body.get("sha") != existing:
            raise ApiError(409, f"{path} does not match {body.get('sha')}")
        tree = self._tree_from(repo, parent and f"{parent}^{{tree}}", [(path, "100644", blob)])
        sha = self._commit(repo, tree, [parent] if parent else [], body["message"])
        repo.git("update-ref", f"refs/heads/{branch}", sha)
        content = self.content_json(repo, branch, path, "blob", blob, len(data))
        return (
            201 if not existing else 200,
            {
                "content": content,
                "commit": self.commit_json(repo, sha),
            },
            {},
        )

    def _create_ref(self, repo: StandinRepo, body: dict) -> tuple:
        ref, sha = body.get("ref", ""), body.get("sha", "")
        if not ref.startswith("refs/") or ref.count("/") < 2:
            raise ApiError(422, "Reference name must start with 'refs/' and have two slashes")
        if repo.rev(ref) is not None:
            raise ApiError(422, "Reference already exists")
        if repo.rev(f"{sha}^{{commit}}") is None:
            raise ApiError(422, "Object does not exist")
        repo.git("update-ref", ref, sha, "")
        return (
            201,
            self.ref_json(repo, ref, sha),
            {"Location": f"/repos/{repo.full_name}/git/{ref}"},
        )

    def _update_ref(self, repo: StandinRepo, ref: str, body: dict) -> tuple:
        if repo.rev(ref) is None:
            raise ApiError(422, "Reference does not exist")
        repo.git("update-ref", ref, body["sha"])
        return 200, self.ref_json(repo, ref, body["sha"]), {}

    def _create_blob(self, repo: StandinRepo, body: dict) -> tuple:
        content = body.get("content", "")
        encoding = body.get("encoding", "utf-8")
        data = base64.b64decode(content) if encoding == "base64" else content.encode()
        sha = repo.git("hash-object", "-w", "--stdin", input=data).strip()
        api = f"{self.base_url}/repos/{repo.full_name}"
        return 201, {"sha": sha, "url": f"{api}/git/blobs/{sha}"}, {}

    def _tree_from(self, repo: StandinRepo, base: str | None, entries) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if base:
                repo.git("read-tree", base, env=env)
            else:
                repo.git("read-tree", "--empty", env=env)
            for path, mode, sha in entries:
                if sha is None:
                    repo.git("update-index", "--force-remove", "--", path, env=env)
                else:
                    repo.git(
                        "update-index", "--add", "--cacheinfo", f"{mode},{sha},{path}", env=env
                    )
            return repo.git("write-tree", env=env).strip()

    def _create_tree(self, repo: StandinRepo, body: dict) -> tuple:
        entries = []
        for item in body.get("tree", []):
            path = item["path"].strip("/")
            sha = item.get("sha")
            if "content" in item and item["content"] is not None:
                sha = repo.git(
                    "hash-object", "-w", "--stdin", input=item["content"].encode()
                ).strip()
            if (
                item.get("type") == "blob"
                and sha is not None
                and repo.rev(f"{sha}^{{blob}}") is None
            ):
                raise ApiError(422, f"tree.sha {sha} is not a valid blob")
            entries.append((path, item.get("mode", "100644"), sha))
        base = body.get("base_tree")
        if base and repo.rev(f"{base}^{{tree}}") is None:
            raise ApiError(422, "base_tree is not a valid tree")
        tree = self._tree_from(repo, base, entries)
        api = f"{self.base_url}/repos/{repo.full_name}"
        listing = []
        for line in repo.git("ls-tree", "-l", tree).splitlines():
            meta, name = line.split("\t", 1)
            mode, typ, sha, size = meta.split()
            listing.append(
                {
                    "path": name,
                    "mode": mode,
                    "type": typ,
                    "sha": sha,
                    **({"size": int(size)} if size.isdigit() else {}),
                    "url": f"{api}/git/{typ}s/{sha}",
                }
            )
        return (
            201,
            {"sha": tree, "url": f"{api}/git/trees/{tree}", "tree": listing, "truncated": False},
            {},
        )

    def _commit(
        self, repo: StandinRepo, tree: str, parents: list[str], message: str, author=None
    ) -> str:
        args = ["commit-tree", tree]
        for p in parents:
            args += ["-p", p]
        author = author or {"name": self.login, "email": f"{self.login}@users.noreply.github.com"}
        env = {
            "GIT_AUTHOR_NAME": author["name"],
            "GIT_AUTHOR_EMAIL": author["email"],
            "GIT_COMMITTER_NAME": "GitHub",
            "GIT_COMMITTER_EMAIL": "noreply@github.com",
        }
        return repo.git(*args, input=message.encode(), env=env).strip()

    def _create_commit(self, repo: StandinRepo, body: dict) -> tuple:
        tree = body.get("tree", "")
        if repo.rev(f"{tree}^{{tree}}") is None:
            raise ApiError(422, "Tree SHA does not exist")
        parents = body.get("parents", [])
        for p in parents:
            if repo.rev(f"{p}^{{commit}}") is None:
                raise ApiError(422, "Parent SHA does not exist or is not a commit object")
        sha = self._commit(repo, tree, parents, body.get("message", ""), body.get("author"))
        return 201, self.commit_json(repo, sha), {}

    def _create_pull(self, repo: StandinRepo, body: dict) -> tuple:
        head, base = body.get("head", ""), body.get("base", "")
        head = head.split(":", 1)[-1]
        branches = repo.branches()
        errors = []
        if head not in branches:
            errors.append({"resource": "PullRequest", "field": "head", "code": "invalid"})
        if base not in branches:
            errors.append({"resource": "PullRequest", "field": "base", "code": "invalid"})
        if errors:
            raise ApiError(422, "Validation Failed", errors)
        for pr in self.pulls[repo.full_name]:
            if pr["head"] == head and pr["state"] == "open":
                raise ApiError(
                    422,
                    "Validation Failed",
                    [
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": f"A pull request already exists for {repo.owner}:{head}.",
                        }
                    ],
                )
        if not body.get("title"):
            raise ApiError(
                422,
                "Validation Failed",
                [{"resource": "PullRequest", "field": "title", "code": "missing_field"}],
            )
        pr = {
            "number": len(self.pulls[repo.full_name]) + 1,
            "title": body["title"],
            "body": body.get("body"),
            "head": head,
            "base": base,
            "head_sha": branches[head],
            "base_sha": branches[base],
            "state": "open",
            "draft": bool(body.get("draft", False)),
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        self.pulls[repo.full_name].append(pr)
        return 201, self.pull_json(repo, pr), {}


def _utc(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Handler(BaseHTTPRequestHandler):
    standin: GitHubStandin
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - silence the default stderr log
        return

    def _git_http(self, method: str, parsed) -> None:
        """Smart HTTP git through `git http-backend` (CGI), behind GitHub-style Basic auth."""
        standin = self.standin
        auth = self.headers.get("Authorization", "")
        password = ""
        if auth.startswith("Basic "):
            try:
                password = base64.b64decode(auth[6:]).decode().split(":", 1)[1]
            except (ValueError, IndexError):
                password = ""
        with standin._lock:
            standin.requests.append(
                Recorded(method, parsed.path, {}, None, password == standin.token)
            )
        if password != standin.token:
            body = b"Invalid username or token.\n"
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="GitHub"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        env = {
            **os.environ,
            "GIT_PROJECT_ROOT": str(standin.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": parsed.path[len("/git") :],
            "QUERY_STRING": parsed.query,
            "REQUEST_METHOD": method,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(data)),
            "REMOTE_USER": "x-access-token",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
        }
        proc = subprocess.run(
            ["git", "http-backend"], input=data, env=env, capture_output=True, timeout=60
        )
        head, _, body = proc.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode(errors="replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _serve(self, method: str) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        if parsed.path.startswith("/git/"):
            return self._git_http(method, parsed)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        standin = self.standin
        auth = self.headers.get("Authorization", "")
        authorized = auth in (f"token {standin.token}", f"Bearer {standin.token}")
        try:
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise ApiError(400, "Problems parsing JSON") from None
            with standin._lock:
                standin.requests.append(Recorded(method, parsed.path, query, body, authorized))
            if not authorized:
                raise ApiError(401, "Bad credentials")
            with standin._lock:
                status, data, headers = standin.handle(method, parsed.path, query, body)
        except Exception as exc:  # noqa: BLE001 - every failure answers as GitHub would
            if not isinstance(exc, ApiError):
                exc = ApiError(500, f"Server Error: {exc}")
            status, headers = exc.status, {}
            data = {"message": exc.message, "documentation_url": DOCS, "status": str(exc.status)}
            if exc.errors:
                data["errors"] = exc.errors
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        self.send_header("X-RateLimit-Limit", "5000")
        self.send_header("X-RateLimit-Remaining", "4999")
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):
        self._serve("GET")

    def do_POST(self):
        self._serve("POST")

    def do_PUT(self):
        self._serve("PUT")

    def do_PATCH(self):
        self._serve("PATCH")

    def do_DELETE(self):
        self._serve("DELETE")
