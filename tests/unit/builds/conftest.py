"""Fixtures for build tests that need no Docker engine: a sample component and its builds."""

from __future__ import annotations

import pytest


@pytest.fixture
def sample_component(project, alice):
    from components.models import Component

    # The built-in sample resolves to a content hash: no repository, no network.
    return Component.objects.create(
        project=project,
        name="sessions",
        source_kind=Component.SourceKind.SAMPLE,
        sample_key="session-timeout-logger",
        preset=Component.Preset.PYTHON,
        entry_command="python3 main.py",
        created_by=alice,
    )


@pytest.fixture
def make_build(sample_component):
    from deployments.models import Build

    def make(**fields):
        values = {
            "component": sample_component,
            "commit_sha": "a" * 40,
            "preset": sample_component.preset,
            **fields,
        }
        return Build.objects.create(**values)

    return make


@pytest.fixture
def build_urls(sample_component):
    from django.urls import reverse

    project = sample_component.project.slug
    name = sample_component.name

    def urls(build=None):
        result = {"queue": reverse("build_list", args=[project, name])}
        if build is not None:
            args = [project, name, build.pk]
            result |= {
                "detail": reverse("build_detail", args=args),
                "log": reverse("build_log", args=args),
                "cancel": reverse("build_cancel", args=args),
            }
        return result

    return urls
