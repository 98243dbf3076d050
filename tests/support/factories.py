"""Rows many tests need, made one way: a component built from the `hello` sample."""

from __future__ import annotations


def sample_component(
    project,
    name: str = "nightly-report",
    *,
    created_by=None,
    entry_command: str = "python3 main.py",
):
    """A Python-preset component from the built-in `hello` sample (no git, no GitHub)."""
    from components.models import Component

    return Component.objects.create(
        project=project,
        name=name,
        source_kind=Component.SourceKind.SAMPLE,
        sample_key="hello",
        preset=Component.Preset.PYTHON,
        entry_command=entry_command,
        created_by=created_by,
    )
