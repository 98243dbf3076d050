"""The component creation wizard: one step at a time, state carried in hidden fields.

Every step is a plain form posting to the same URL (so it works without JavaScript); htmx
swaps just the wizard's fragment when present. Each step is validated on the server when it
is submitted, with the source read for real (git ls-remote / fetch, GitHub API), so the user
learns about an unreachable repository or a missing path at the step that caused it.

    sample: source → sample → confirm
    git:    source → git → path → confirm
    github: source → github → branch → path → confirm

- `base`: the state, the order of the steps, rendering;
- `source_steps`: source, sample, git, github, branch;
- `finish_steps`: path, confirm (and the creation).
"""

from __future__ import annotations

from .base import STATE_FIELDS, STEP_FIELDS, STEP_LABELS, STEPS, StepView, WizardBase
from .finish_steps import FinishSteps
from .source_steps import SourceSteps


class Wizard(SourceSteps, FinishSteps):
    """One creation journey: `start()` for a GET, `submit()` for a POST; both return a
    StepView to render (or, once created, the new component)."""


__all__ = [
    "STATE_FIELDS",
    "STEPS",
    "STEP_FIELDS",
    "STEP_LABELS",
    "StepView",
    "Wizard",
    "WizardBase",
]
