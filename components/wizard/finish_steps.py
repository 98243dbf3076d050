"""The last steps: the path inside the repository (or a sample to open a pull request with),
then the name, preset and the creation itself."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.text import slugify

from .. import github as gh
from .. import services
from ..forms import ConfirmForm, PathForm, apply_validation_error
from ..models import Component
from ..presets import Detection
from ..samples import SAMPLES
from ..sources import SourceError, source_inspect
from .base import StepView, WizardBase


class FinishSteps(WizardBase):
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
