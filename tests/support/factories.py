"""Rows many tests need, made one way: a component from the `hello` sample, and its builds."""

from __future__ import annotations

import itertools


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


_builds = itertools.count(1)


def succeeded_build(component, *, status: str = "succeeded", image_ref: str = "", **extra):
    """A finished build with a commit and digest of its own (no image is really built); its
    image is `image_ref`, else a tag named after the commit."""
    from django.utils import timezone

    from deployments.models import Build

    n = next(_builds)
    sha = f"{n:02x}" * 20
    return Build.objects.create(
        component=component,
        commit_sha=sha,
        status=status,
        preset="python",
        image_ref=image_ref or f"chorus/payments/nightly-report:{sha[:12]}",
        image_digest=f"sha256:{n:064x}",
        finished_at=timezone.now(),
        **extra,
    )
