"""The steps that choose the source: its kind, then a sample, a git URL or a GitHub
repository and branch."""

from __future__ import annotations

from .. import github as gh
from ..forms import BranchForm, GitHubRepositoryForm, GitSourceForm, SampleForm, SourceKindForm
from ..selectors import github_connections
from ..sources import git
from .base import STATE_FIELDS, WizardBase


class SourceSteps(WizardBase):
    # --- step: source -------------------------------------------------------------------
    def _context_source(self) -> dict:
        return {"form": SourceKindForm(initial={"kind": self.state["kind"] or None})}

    def _validate_source(self):
        form = SourceKindForm(self.data)
        if not form.is_valid():
            return False, {"form": form}
        kind = form.cleaned_data["kind"]
        # A new kind starts a new journey: nothing of another source kind carries over.
        self.state = {k: "" for k in STATE_FIELDS} | {"kind": kind}
        return True, {}

    # --- step: sample -------------------------------------------------------------------
    def _context_sample(self) -> dict:
        return {"form": SampleForm(initial={"sample_key": self.state["sample_key"] or None})}

    def _validate_sample(self):
        form = SampleForm(self.data)
        if not form.is_valid():
            return False, {"form": form}
        return True, {}

    # --- step: git ----------------------------------------------------------------------
    def _context_git(self) -> dict:
        return {"form": GitSourceForm(initial=self.state)}

    def _validate_git(self):
        form = GitSourceForm(self.data)
        if not form.is_valid():
            return False, {"form": form}
        url, ref = form.cleaned_data["git_url"], form.cleaned_data["branch"]
        try:
            refs = git.ls_remote(url)
        except git.GitError as exc:
            form.add_error("git_url", f"Cannot reach the repository: {exc}")
            return False, {"form": form}
        if git.match_ref(refs, ref) is None and not git.SHA_RE.match(ref):
            branches = git.branches_of(refs)
            if not ref:
                form.add_error("git_url", "The repository is empty: push a commit first.")
            else:
                hint = f" Branches: {', '.join(branches[:10])}." if branches else ""
                form.add_error(
                    "branch", f"“{ref}” is not a branch or tag of this repository.{hint}"
                )
            return False, {"form": form}
        self.state.update(git_url=url, branch=ref)
        return True, {}

    # --- step: github -------------------------------------------------------------------
    def _repo_choices(self) -> tuple[list, list[str], dict[str, gh.RepoInfo]]:
        choices, errors, infos = [], [], {}
        for connection in github_connections(project=self.project):
            try:
                repos = gh.repositories(connection)
            except gh.GitHubError as exc:
                errors.append(f"{connection.login}: {exc}")
                continue
            group = []
            for repo in repos:
                value = f"{connection.pk}:{repo.full_name}"
                infos[value] = repo
                group.append((value, repo.full_name + (" (private)" if repo.private else "")))
            choices.append((f"{connection.login} @ {connection.base_url}", group))
        return choices, errors, infos

    def _context_github(self) -> dict:
        connections = list(github_connections(project=self.project))
        choices, errors, _ = self._repo_choices() if connections else ([], [], {})
        return {
            "connections": connections,
            "github_errors": errors,
            "form": GitHubRepositoryForm(
                initial={"repository": self.state["repository"]}, repo_choices=choices
            ),
        }

    def _validate_github(self):
        choices, errors, infos = self._repo_choices()
        form = GitHubRepositoryForm(self.data, repo_choices=choices)
        if not form.is_valid():
            return False, {"form": form, "github_errors": errors}
        value = form.cleaned_data["repository"]
        if value != self.state.get("repository") or not self.state["branch"]:
            self.state["branch"] = infos[value].default_branch
        self.state["repository"] = value
        return True, {}

    # --- step: branch -------------------------------------------------------------------
    def _branches(self) -> tuple[list[str], str]:
        c = self.component()
        try:
            return gh.branches(c.github_connection, c.repository), ""
        except gh.GitHubError as exc:
            return [], str(exc)

    def _context_branch(self) -> dict:
        branches, error = self._branches()
        return {
            "form": BranchForm(initial={"branch": self.state["branch"]}, branches=branches),
            "github_errors": [error] if error else [],
        }

    def _validate_branch(self):
        branches, error = self._branches()
        form = BranchForm(self.data, branches=branches)
        if not form.is_valid():
            return False, {"form": form, "github_errors": [error] if error else []}
        self.state["branch"] = form.cleaned_data["branch"]
        return True, {}
