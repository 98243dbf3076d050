"""The built-in sample tasks a component can start from.

Each sample is a real source tree beside this file (`components/samples/<key>/`), built
exactly like a user's repository: a Dockerfile, or the Python preset with its entry
command declared in `chorus.toml`. The catalog reads the entry from that file so the two
cannot drift apart.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

SAMPLES_DIR = Path(__file__).resolve().parent

Preset = Literal["dockerfile", "python"]


@dataclass(frozen=True)
class Sample:
    key: str
    title: str
    description: str
    preset: Preset
    # Command run for the Python preset; None for Dockerfile samples (the image's CMD runs).
    entry: str | None
    path: Path


def _python_entry(key: str) -> str:
    with (SAMPLES_DIR / key / "chorus.toml").open("rb") as handle:
        return str(tomllib.load(handle)["entry"])


def _sample(key: str, title: str, description: str, preset: Preset) -> Sample:
    return Sample(
        key=key,
        title=title,
        description=description,
        preset=preset,
        entry=_python_entry(key) if preset == "python" else None,
        path=SAMPLES_DIR / key,
    )


SAMPLES: dict[str, Sample] = {
    sample.key: sample
    for sample in (
        _sample(
            "health-check",
            "Health check",
            "Calls an HTTP endpoint and fails when it does not answer the expected status in time.",
            "dockerfile",
        ),
        _sample(
            "github-issues-summary",
            "GitHub issues summary",
            "Counts a repository's open and closed issues and posts the summary to a "
            "Slack-compatible chat webhook.",
            "python",
        ),
        _sample(
            "session-timeout-logger",
            "Session timeout logger",
            "Reads a JSON list of sessions and logs every session idle longer than the "
            "timeout, measured from the scheduled tick.",
            "python",
        ),
        _sample(
            "data-cleanup",
            "Data cleanup",
            "Deletes or archives rows older than N days from a SQLite or PostgreSQL table, "
            "in batches, idempotently.",
            "python",
        ),
    )
}


def get_sample(key: str) -> Sample:
    """Return the sample called `key`; raise KeyError naming the known keys otherwise."""
    try:
        return SAMPLES[key]
    except KeyError:
        raise KeyError(f"unknown sample {key!r}; known samples: {', '.join(SAMPLES)}") from None
