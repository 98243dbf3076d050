"""GitHub's documented JSON shapes (docs.github.com/rest) for what the stand-in holds."""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime
from typing import Any

from .repos import StandinRepo


class JsonShapes:
    """Mixed into GitHubStandin: needs its `base_url`, `login` and `git_over_http`."""

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


def _utc(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
