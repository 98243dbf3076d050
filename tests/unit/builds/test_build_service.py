"""build_execute's bookkeeping: slots, lost workers, and nothing ever stuck in "running"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from deployments.builds.execute import BuildSlotsBusy, build_execute, build_slot
from deployments.builds.services import builds_fail_stale, image_tag
from deployments.models import Build

pytestmark = pytest.mark.django_db


def test_no_free_slot_leaves_the_build_queued(settings, tmp_path, make_build):
    settings.CHORUS_BUILD_DIR = tmp_path
    settings.CHORUS_MAX_CONCURRENT_BUILDS = 1
    build = make_build()
    with build_slot():
        with pytest.raises(BuildSlotsBusy):
            build_execute(build_id=build.pk)
    build.refresh_from_db()
    assert build.status == Build.Status.QUEUED and not build.log_lines.exists()


def test_a_redelivered_build_whose_worker_died_is_failed(make_build):
    build = make_build(status=Build.Status.RUNNING, started_at=timezone.now())
    assert build_execute(build_id=build.pk) == Build.Status.FAILED
    build.refresh_from_db()
    assert build.status == Build.Status.FAILED and build.finished_at
    assert "worker running this build stopped" in build.error
    assert build.log_lines.order_by("-seq").first().text.startswith("Build failed: The worker")


def test_stale_running_builds_are_failed(settings, make_build):
    settings.CHORUS_BUILD_TIMEOUT = 60
    old = make_build(status=Build.Status.RUNNING, started_at=timezone.now() - timedelta(hours=1))
    fresh = make_build(commit_sha="b" * 40, status=Build.Status.RUNNING, started_at=timezone.now())
    assert builds_fail_stale() == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.status == Build.Status.FAILED and fresh.status == Build.Status.RUNNING


def test_image_tag_names_project_component_and_commit(make_build):
    build = make_build(commit_sha="0123456789abcdef" * 2)
    assert image_tag(build) == "chorus/payments/sessions:0123456789ab"
