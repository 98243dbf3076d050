"""The builds list follows a build to its end without a reload."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from components.models import Component

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_builds_table_shows_a_build_finishing_without_a_reload(
    page, live_server, login, carol, project
):
    from deployments.models import Build

    component = Component.objects.create(
        project=project,
        name="nightly",
        source_kind=Component.SourceKind.SAMPLE,
        sample_key="health-check",
        preset=Component.Preset.DOCKERFILE,
    )
    build = Build.objects.create(
        component=component,
        commit_sha="c" * 40,
        preset="dockerfile",
        status=Build.Status.RUNNING,
        started_at=timezone.now(),
    )
    login(carol)
    page.goto(f"{live_server.url}/p/{project.slug}/c/nightly/builds/")
    row = page.locator(f'tr[data-build="{build.pk}"]')
    expect(row.locator(".badge")).to_have_text("Running")
    page.evaluate("window.__not_reloaded = true")

    Build.objects.filter(pk=build.pk).update(
        status=Build.Status.SUCCEEDED, finished_at=timezone.now()
    )
    expect(row.locator(".badge")).to_have_text("Succeeded", timeout=10_000)
    assert page.evaluate("window.__not_reloaded") is True
    # Nothing is active any more: the table stopped asking.
    expect(page.locator("#builds-table")).not_to_have_attribute("hx-trigger", "every 3s")
