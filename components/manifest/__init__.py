"""`chorus.toml`: what a component's repository declares about itself.

The file sits in the component's directory (beside its Dockerfile or main.py). Every build
reads it from the checkout at the built commit, validates it and keeps the result on the
build (`Build.manifest`), so what a deployment runs and what its file declared travel
together. An invalid file fails the build with the line and the reason, and changes nothing
deployed.

Top-level keys:

- `entry`: the Python preset's command (`entry = "python3 main.py"`);
- `[config.KEY]`: the task's settings (components/manifest/config.py);
- `[environments.<slug>]`: schedule, timezone and policies per environment
  (components/manifest/environments.py).

Any other top-level key is refused by name, so a typo never passes silently.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_FILE = "chorus.toml"
MAX_BYTES = 64 * 1024
TOP_LEVEL_KEYS = ("entry", "config", "environments")


class ManifestError(ValueError):
    """A chorus.toml Chorus refuses: `reason` in words, `line` (1-based) when known."""

    def __init__(self, reason: str, line: int | None = None):
        self.reason = reason
        self.line = line
        where = f"{MANIFEST_FILE} line {line}" if line else MANIFEST_FILE
        super().__init__(f"{where}: {reason}")


@dataclass
class Manifest:
    """A validated chorus.toml. `config` and `environments` hold plain, JSON-ready values."""

    entry: str = ""
    config: dict[str, dict[str, Any]] = field(default_factory=dict)
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.entry:
            out["entry"] = self.entry
        if self.config:
            out["config"] = self.config
        if self.environments:
            out["environments"] = self.environments
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Manifest:
        data = data or {}
        return cls(
            entry=str(data.get("entry") or ""),
            config=dict(data.get("config") or {}),
            environments=dict(data.get("environments") or {}),
        )


class Locator:
    """Finds the line of a key or table in the file's text, for messages."""

    def __init__(self, text: str):
        self.lines = text.splitlines()

    def table(self, *path: str) -> int | None:
        """The line of `[a.b]` (or `[[a.b]]`), quoted or bare keys."""
        wanted = ".".join(path)
        for number, line in enumerate(self.lines, start=1):
            m = re.match(r"\s*\[\[?\s*([^\]]+?)\s*\]\]?", line)
            if m and _unquote_dotted(m.group(1)) == wanted:
                return number
        return None

    def key(self, *path: str) -> int | None:
        """The line where `path[-1] = …` is set inside table `path[:-1]` (or dotted)."""
        *tables, name = path
        start = self.table(*tables) if tables else 0
        if tables and start is None:
            # Dotted or inline form: `config.KEY = {…}` or `KEY = {…}` under `[config]`.
            parent = self.key(*tables)
            return parent
        pattern = re.compile(rf"\s*[\"']?{re.escape(name)}[\"']?\s*[=.]")
        for number, line in enumerate(self.lines, start=1):
            if number <= (start or 0):
                continue
            if tables and re.match(r"\s*\[", line):
                break  # the next table starts: not in ours
            if pattern.match(line):
                return number
        return start or None


def _unquote_dotted(text: str) -> str:
    return ".".join(part.strip().strip("\"'") for part in text.split("."))


def parse_manifest(text: str) -> Manifest:
    """The validated manifest of `text`; ManifestError with the line and reason."""
    if len(text.encode(errors="replace")) > MAX_BYTES:
        raise ManifestError(f"the file is larger than {MAX_BYTES // 1024} KiB")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(m.group(1)) if m else None
        if line is None and "(at end of document)" in str(exc):
            line = max(len(text.splitlines()), 1)  # an unclosed [ or { runs to the end
        reason = re.sub(r"\s*\((at line \d+, column \d+|at end of document)\)", "", str(exc))
        raise ManifestError(f"not valid TOML: {reason or 'invalid TOML'}", line) from exc
    where = Locator(text)
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise ManifestError(
                f"unknown key “{key}” (known: {', '.join(TOP_LEVEL_KEYS)})",
                where.table(key) or where.key(key),
            )
    manifest = Manifest()
    entry = data.get("entry", "")
    if not isinstance(entry, str):
        raise ManifestError(
            '“entry” must be a string, e.g. entry = "python3 main.py"', where.key("entry")
        )
    manifest.entry = entry.strip()

    from components.manifest.config import parse_config
    from components.manifest.environments import parse_environments

    manifest.config = parse_config(data.get("config", {}), where)
    manifest.environments = parse_environments(data.get("environments", {}), where)
    return manifest


def read_manifest(source_dir: Path) -> Manifest | None:
    """The manifest in `source_dir`, None when there is no chorus.toml."""
    path = Path(source_dir) / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ManifestError(f"cannot be read: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError("the file is not UTF-8 text") from exc
    return parse_manifest(text)
