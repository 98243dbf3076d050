"""The wizard's state, its steps in order, and the rendering every step shares."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from ..models import Component
from ..samples import SAMPLES
from ..selectors import github_connection_get
from ..sources import git

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


class WizardBase:
    """State, flow and rendering; the steps' `_context_<step>` / `_validate_<step>` methods
    come from the subclasses in `source_steps` and `finish_steps`."""

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
