"""The component creation wizard: one step at a time, state carried in hidden fields.

Every step is a plain form posting to the same URL (so it works without JavaScript); htmx
swaps just the wizard's fragment when present. Each step is validated on the server when it
is submitted, with the source read for real (git ls-remote / fetch, GitHub API), so the user
learns about an unreachable repository or a missing path at the step that caused it.

    sample: source → sample → confirm
    git:    source → git → path → confirm
    github: source → github → branch → path → confirm
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.text import slugify

from . import github as gh
from . import services
from .forms import (
    BranchForm,
    ConfirmForm,
    GitHubRepositoryForm,
    GitSourceForm,
    PathForm,
    SampleForm,
    SourceKindForm,
    apply_validation_error,
)
from .models import Component
from .presets import Detection
from .samples import SAMPLES
from .selectors import github_connection_get, github_connections
from .sources import SourceError, git, source_inspect

STATE_FIELDS = ("kind", "sample_key", "git_url", "branch", "repository", "path", "pr_sample")
STEPS = {
    "sample": ("source", "sample", "confirm"),
    "git": ("source", "git", "path", "confirm"),
    "github": ("source", "github", "branch", "path", "confirm"),
}
STEP_LABELS = {
    "source": "Source",
    "sample": "Sample",
    "git": "Git URL",
    "github": "Repository",
    "branch": "Branch",
    "path": "Path",
    "confirm": "Confirm",
}
# The state fields each step edits (the others travel as hidden inputs).
STEP_FIELDS = {
    "source": ("kind",),
    "sample": ("sample_key",),
    "git": ("git_url", "branch"),
    "github": ("repository",),
    "branch": ("branch",),
    "path": ("path", "pr_sample"),
    "confirm": (),
}


@dataclass
class StepView:
    step: str
    context: dict = field(default_factory=dict)
    created: Component | None = None


class Wizard:
    def __init__(self, *, project, user, data):
        self.project = project
        self.user = user
        self.data = data
        self.state = {k: (data.get(k) or "").strip() for k in STATE_FIELDS}

    # --- flow -----------------------------------------------------------------------------
    @property
    def steps(self) -> tuple[str, ...]:
        return STEPS.get(self.state["kind"], ("source", "…", "confirm"))

    def _neighbour(self, step: str, delta: int) -> str:
        steps = self.steps
        if step not in steps:
            return "source"
        i = min(max(steps.index(step) + delta, 0), len(steps) - 1)
        return steps[i]

    def start(self) -> StepView:
        """GET: the first step, or the step after the source when ?kind= is given."""
        if self.state["kind"] in STEPS:
            return self.render(self.steps[1])
        return self.render("source")

    def submit(self) -> StepView:
        step = self.data.get("step", "source")
        if step not in STEP_LABELS:
            step = "source"
        if self.data.get("back"):
            return self.render(self._neighbour(step, -1))
        validate = getattr(self, f"_validate_{step}")
        ok, forms_ctx = validate()
        if not ok:
            return self.render(step, **forms_ctx)
        if step == "confirm":
            return forms_ctx["view"]
        return self.render(self._neighbour(step, +1))

    # --- rendering ----------------------------------------------------------------------
    def render(self, step: str, **extra) -> StepView:
        ctx = {
            "step": step,
            "state": self.state,
            "steps": [(s, STEP_LABELS[s]) for s in self.steps if s in STEP_LABELS],
            "carry": [
                (k, v) for k, v in self.state.items() if v and k not in STEP_FIELDS.get(step, ())
            ],
            "samples": list(SAMPLES.values()),
            "is_first": step == "source",
            "source_summary": self.source_summary(with_path=step != "path"),
        }
        builder = getattr(self, f"_context_{step}", None)
        if builder is not None and "form" not in extra:
            ctx.update(builder())
        elif builder is not None and step in ("github", "branch", "path", "confirm"):
            # Re-rendering with errors: keep the lists and the detection beside the form.
            ctx.update({k: v for k, v in builder().items() if k != "form"})
        ctx.update(extra)
        return StepView(step=step, context=ctx)

    def source_summary(self, *, with_path: bool = True) -> str:
        s = dict(self.state)
        if not with_path:
            s["path"] = ""
        if s["kind"] == "sample" and s["sample_key"] in SAMPLES:
            return f"Built-in sample: {SAMPLES[s['sample_key']].title}"
        if s["kind"] == "git" and s["git_url"]:
            where = f"{s['git_url']} @ {s['branch'] or 'default branch'}"
            return where + (f" : /{s['path']}" if s["path"] else "")
        if s["kind"] == "github" and s["repository"]:
            repo = s["repository"].split(":", 1)[-1]
            where = f"GitHub {repo}" + (f" @ {s['branch']}" if s["branch"] else "")
            return where + (f" : /{s['path']}" if s["path"] else "")
        return ""

    def component(self) -> Component:
        """An unsaved Component built from the state (for source checks)."""
        s = self.state
        connection, repository = None, ""
        if s["kind"] == "github" and ":" in s["repository"]:
            conn_id, repository = s["repository"].split(":", 1)
            connection = github_connection_get(project=self.project, pk=conn_id)
        try:
            path = git.normalize_path(s["path"])
        except ValidationError:
            path = s["path"]
        return Component(
            project=self.project,
            source_kind=s["kind"],
            git_url=s["git_url"],
            repository=repository,
            github_connection=connection,
            branch=s["branch"],
            path=path,
            sample_key=s["sample_key"],
        )

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

    # --- step: path ---------------------------------------------------------------------
    def _root_listing(self) -> tuple[list[str], str]:
        c = self.component()
        c.path = ""
        try:
            return source_inspect(component=c).names, ""
        except SourceError as exc:
            return [], str(exc)

    def _context_path(self) -> dict:
        names, error = self._root_listing()
        return {
            "form": PathForm(
                initial={"path": self.state["path"], "pr_sample": self.state["pr_sample"]},
                allow_pr=self.state["kind"] == "github",
            ),
            "root_names": names,
            "listing_error": error,
        }

    def _validate_path(self):
        form = PathForm(self.data, allow_pr=self.state["kind"] == "github")
        if not form.is_valid():
            return False, {"form": form}
        self.state["path"] = form.cleaned_data["path"]
        self.state["pr_sample"] = form.cleaned_data.get("pr_sample") or ""
        component = self.component()
        if self.state["pr_sample"]:
            sample = SAMPLES[self.state["pr_sample"]]
            path = self.state["path"] or sample.key
            try:
                existing = gh.list_dir(
                    component.github_connection, component.repository, component.branch, path
                )
            except gh.GitHubError:
                existing = []
            if existing:
                form.add_error(
                    "path", f"“{path}” already holds files; choose an empty path for the sample."
                )
                return False, {"form": form}
            self.state["path"] = path
            return True, {}
        try:
            services.component_source_check(component=component)
        except ValidationError as exc:
            apply_validation_error(form, exc)
            return False, {"form": form}
        return True, {}

    # --- step: confirm ------------------------------------------------------------------
    def detection(self) -> tuple[Detection | None, str]:
        s = self.state
        sample_key = s["sample_key"] if s["kind"] == "sample" else s["pr_sample"]
        if sample_key in SAMPLES:
            sample = SAMPLES[sample_key]
            summary = f"The sample “{sample.title}” uses the {sample.preset} preset" + (
                f" with entry {sample.entry}." if sample.entry else "."
            )
            return Detection(sample.preset, sample.entry or "", summary, (sample.preset,)), ""
        try:
            return services.component_source_check(component=self.component()), ""
        except ValidationError as exc:
            return None, " ".join(exc.messages)

    def suggested_name(self) -> str:
        s = self.state
        if s["kind"] == "sample":
            base = s["sample_key"]
        elif s["pr_sample"]:
            base = s["pr_sample"]
        elif s["path"]:
            base = s["path"].rsplit("/", 1)[-1]
        else:
            repo = s["repository"].split(":", 1)[-1] or s["git_url"].rstrip("/")
            base = re.sub(r"\.git$", "", repo.rsplit("/", 1)[-1].rsplit(":", 1)[-1])
        base = slugify(base)[:55].strip("-") or "task"
        name, n = base, 2
        while Component.objects.filter(project=self.project, name=name).exists():
            name, n = f"{base}-{n}", n + 1
        return name

    def receives_pushes(self) -> bool:
        # Built-in samples live inside Chorus: no push ever arrives, so no auto-build.
        return self.state["kind"] != "sample"

    def _context_confirm(self) -> dict:
        detection, error = self.detection()
        presets = detection.available if detection else ("dockerfile", "python")
        initial = {"name": self.suggested_name(), "auto_build": False}
        if detection:
            initial.update(preset=detection.preset, entry_command=detection.entry)
        return {
            "form": ConfirmForm(
                initial=initial, presets=presets, allow_auto_build=self.receives_pushes()
            ),
            "detection": detection,
            "detection_error": error,
            "pr_sample": SAMPLES.get(self.state["pr_sample"]),
        }

    def _validate_confirm(self):
        detection, error = self.detection()
        presets = detection.available if detection else ("dockerfile", "python")
        form = ConfirmForm(self.data, presets=presets, allow_auto_build=self.receives_pushes())
        if not form.is_valid():
            return False, {"form": form}
        c = self.component()
        d = form.cleaned_data
        try:
            created = services.component_create(
                project=self.project,
                actor=self.user,
                name=d["name"],
                description=d["description"],
                source_kind=c.source_kind,
                git_url=c.git_url,
                repository=c.repository,
                github_connection=c.github_connection,
                branch=c.branch,
                path=c.path,
                sample_key=c.sample_key,
                preset=d["preset"],
                entry_command=d["entry_command"] if d["preset"] == "python" else "",
                auto_build=d.get("auto_build", False),
                sample_pull_request=self.state["pr_sample"] or None,
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
            return False, {"form": form}
        return True, {"view": StepView(step="done", created=created)}
