"""Which endpoint a request is, reads of a repository, and `Link` pagination."""

from __future__ import annotations

import base64
import re
import subprocess
import urllib.parse
from typing import Any

from .repos import ApiError, StandinRepo


class Routes:
    """Mixed into GitHubStandin: answers one authorised request, as (status, json, headers)."""

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
