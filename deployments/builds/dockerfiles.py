"""Dockerfiles: the Python preset's generated one, and the little reading Chorus does of any.

`render_dockerfile` fills `deployments/builds/templates_docker/python.Dockerfile` (a real file in the
repository, so a reviewer reads exactly what users get). The readers (`instructions`,
`declares_arg`, `start_command`, `env_vars`) let the builder pass `BASE_IMAGE` only to
Dockerfiles that declare it, and let the local runtime find what a Dockerfile would start.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

from django.conf import settings
from django.template import Context, Engine

from deployments.runtimes.base import BuildError

TEMPLATE = Path(__file__).resolve().parent / "templates_docker" / "python.Dockerfile"
DEFAULT_ENTRY = "python3 main.py"


# --- reading ------------------------------------------------------------------------------
def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuations joined."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # comment lines inside a continued instruction are skipped by Docker
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        if not line.strip():
            continue
        word, _, args = line.strip().partition(" ")
        result.append((word.upper(), args.strip()))
    if pending.strip():
        word, _, args = pending.strip().partition(" ")
        result.append((word.upper(), args.strip()))
    return result


def declares_arg(text: str, name: str) -> bool:
    for word, args in instructions(text):
        if word == "ARG" and args.split("=", 1)[0].strip() == name:
            return True
    return False


def _command(args: str) -> list[str]:
    """Exec form (a JSON array) as is; shell form wrapped in /bin/sh -c, as Docker does."""
    if args.startswith("["):
        try:
            value = json.loads(args)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["/bin/sh", "-c", args]


def start_command(text: str) -> list[str] | None:
    """What a container of this Dockerfile runs: ENTRYPOINT + CMD with Docker's rules."""
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    for word, args in instructions(text):
        if word == "FROM":  # a later stage starts afresh
            entrypoint = cmd = None
        elif word == "ENTRYPOINT":
            entrypoint = _command(args)
            cmd = None  # Docker resets an inherited CMD when ENTRYPOINT is set
        elif word == "CMD":
            cmd = _command(args)
    if entrypoint:
        if entrypoint[:2] == ["/bin/sh", "-c"]:
            return entrypoint  # the shell form ignores CMD
        return entrypoint + (cmd or [])
    return cmd


def env_vars(text: str) -> dict[str, str]:
    """ENV instructions of the last stage (values with ${VAR} references kept literally)."""
    env: dict[str, str] = {}
    for word, args in instructions(text):
        if word == "FROM":
            env = {}
        elif word == "ENV":
            try:
                parts = shlex.split(args)
            except ValueError:
                continue
            if parts and "=" in parts[0]:
                for part in parts:
                    key, _, value = part.partition("=")
                    if key:
                        env[key] = value
            elif len(parts) >= 2:
                env[parts[0]] = args.split(None, 1)[1].strip()
    return env


# --- the Python preset --------------------------------------------------------------------
def has_requirements(path: Path) -> bool:
    """True when requirements.txt names at least one thing to install (not only comments)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return False
    return any(line.strip() and not line.strip().startswith("#") for line in lines)


def pyproject_dependencies(path: Path) -> list[str]:
    try:
        data = tomllib.loads(path.read_text(errors="replace"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BuildError(f"pyproject.toml cannot be read: {exc}") from exc
    deps = data.get("project", {}).get("dependencies", [])
    return [d for d in deps if isinstance(d, str) and d.strip()] if isinstance(deps, list) else []


def entry_command(component, source_dir: Path | None) -> str:
    """The component's entry command; else chorus.toml's `entry`; else python3 main.py."""
    entry = (component.entry_command or "").strip()
    if entry:
        return entry
    if source_dir is not None:
        chorus = Path(source_dir) / "chorus.toml"
        if chorus.is_file():
            try:
                value = tomllib.loads(chorus.read_text(errors="replace")).get("entry")
            except tomllib.TOMLDecodeError as exc:
                raise BuildError(f"chorus.toml cannot be read: {exc}") from exc
            if isinstance(value, str) and value.strip():
                return value.strip()
        if (Path(source_dir) / "main.py").is_file():
            return DEFAULT_ENTRY
    raise BuildError(
        "The Python preset needs an entry command (e.g. “python3 main.py”): set it on the "
        'component, or add a chorus.toml with entry = "python3 your_script.py".'
    )


def render_dockerfile(component, source_dir: Path | None = None) -> str:
    """The Dockerfile of the Python preset for `component` whose source is in `source_dir`."""
    entry = entry_command(component, source_dir)
    try:
        argv = shlex.split(entry)
    except ValueError as exc:
        raise BuildError(f"The entry command “{entry}” cannot be parsed: {exc}") from exc
    if not argv:
        raise BuildError("The entry command is empty.")
    requirements_file = ""
    pyproject_run = ""
    if source_dir is not None:
        source_dir = Path(source_dir)
        if has_requirements(source_dir / "requirements.txt"):
            requirements_file = "requirements.txt"
        elif (source_dir / "pyproject.toml").is_file():
            deps = pyproject_dependencies(source_dir / "pyproject.toml")
            if deps:
                pyproject_run = json.dumps(["python3", "-m", "pip", "install", "--no-input", *deps])
    engine = Engine(debug=False)
    template = engine.from_string(TEMPLATE.read_text())
    text = template.render(
        Context(
            {
                "component_label": f"{component.project.slug}/{component.name}",
                "base_image": settings.CHORUS_PYTHON_BASE_IMAGE,
                "requirements_file": requirements_file,
                "pyproject_dependencies": pyproject_run,
                "command_json": json.dumps(argv),
            },
            autoescape=False,
        )
    )
    # Template tags leave blank lines behind; keep at most one in a row.
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
