"""The endpoints that write: contents, git data (blobs, trees, commits, refs), pull requests.
Each is carried out with git plumbing on the backing bare repository."""

from __future__ import annotations

import base64
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from .repos import ApiError, StandinRepo


class GitWrites:
    """Mixed into GitHubStandin: needs its `login`, `pulls` and the JSON shapes."""

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
