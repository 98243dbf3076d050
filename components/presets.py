"""Build preset detection: what does the task's directory contain, and how does it start?

- a Dockerfile → the Dockerfile preset (the image's own CMD runs);
- a Python project (requirements.txt, pyproject.toml, setup.py or main.py) → the Python
  preset, with the entry command from `chorus.toml` (`entry = "python3 main.py"`), else
  `python3 main.py` when main.py exists, else `python3 -m <package>` for a package with a
  `__main__.py`-style layout named in pyproject.toml;
- neither → no preset, and a message saying what to add.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass

PYTHON_MARKERS = ("requirements.txt", "pyproject.toml", "setup.py", "main.py")
NOTHING_FOUND = (
    "No Dockerfile and no Python project was found {where}. Chorus needs either a Dockerfile, "
    "or a Python project: a requirements.txt, pyproject.toml or setup.py with a main.py "
    '(or a chorus.toml saying `entry = "python3 your_script.py"`).'
)


@dataclass(frozen=True)
class Detection:
    preset: str | None  # "dockerfile", "python" or None
    entry: str  # the Python preset's entry command ("" when unknown or for Dockerfiles)
    summary: str  # what was found, in words
    available: tuple[str, ...] = ()  # every preset the directory supports

    @property
    def ok(self) -> bool:
        return self.preset is not None


def _toml(text: str | None) -> dict:
    if not text:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}


def python_entry(names: list[str], files: dict[str, str]) -> tuple[str, str]:
    """(entry command, where it came from); ("", reason) when it cannot be told."""
    chorus = _toml(files.get("chorus.toml"))
    entry = chorus.get("entry")
    if isinstance(entry, str) and entry.strip():
        return entry.strip(), "chorus.toml"
    if "main.py" in names:
        return "python3 main.py", "main.py"
    project = _toml(files.get("pyproject.toml")).get("project", {})
    name = project.get("name") if isinstance(project, dict) else None
    if isinstance(name, str):
        module = re.sub(r"[^A-Za-z0-9_]", "_", name)
        if f"{module}/" in names or "src/" in names:
            return f"python3 -m {module}", "pyproject.toml"
    if "__main__.py" in names:
        return "python3 .", "__main__.py"
    return "", "no main.py, no chorus.toml entry"


def detect(names: list[str], files: dict[str, str], *, where: str = "") -> Detection:
    """Decide the preset from the names inside the directory and a few files' contents."""
    where = where or "at this path"
    has_docker = "Dockerfile" in names
    markers = [m for m in PYTHON_MARKERS if m in names]
    available = tuple(p for p, ok in (("dockerfile", has_docker), ("python", bool(markers))) if ok)
    entry, origin = python_entry(names, files) if markers else ("", "")
    if has_docker:
        extra = f" (a Python project is there too: {', '.join(markers)})" if markers else ""
        return Detection("dockerfile", entry, f"Found a Dockerfile{extra}.", available)
    if markers:
        if entry:
            summary = f"Found a Python project ({', '.join(markers)}); entry from {origin}: {entry}"
        else:
            summary = (
                f"Found a Python project ({', '.join(markers)}) but no entry point: add a "
                'main.py or a chorus.toml with `entry = "…"`, or type the command below.'
            )
        return Detection("python", entry, summary, available)
    return Detection(None, "", NOTHING_FOUND.format(where=where), ())
