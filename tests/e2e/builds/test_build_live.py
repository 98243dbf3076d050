"""Press Build, watch the log grow while the build runs, see the badge turn to Succeeded."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from components.models import Component
from tests.support.builds import PYTHON_BASE, ensure_base_images, remove_images
from tests.support.gitrepos import BareRepo
from tests.support.processes import flush_broker, running, start_worker

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_press_build_and_watch_the_live_log(page, live_server, login, bob, project, tmp_path):
    from deployments.models import Build

    ensure_base_images()
    token = uuid.uuid4().hex[:8]
    repo = BareRepo.create(tmp_path / "nightly.git")
    repo.commit(
        {
            "Dockerfile": (
                "FROM chorus/busybox:latest\n"
                f'RUN for i in 1 2 3 4 5 6; do echo "compiling part $i of 6 ({token})"; '
                "sleep 1; done\n"
                'CMD ["echo", "<b>done</b>"]\n'
            )
        },
        message="Nightly <report>",
    )
    Component.objects.create(
        project=project,
        name="nightly",
        source_kind=Component.SourceKind.GIT,
        git_url=repo.url,
        branch="main",
        preset=Component.Preset.DOCKERFILE,
    )
    flush_broker()
    worker = lambda: start_worker(  # noqa: E731
        "e2e-builds",
        concurrency=1,
        queues="builds",
        extra_env={"CHORUS_DEFAULT_RUNTIME": "docker", "CHORUS_PYTHON_BASE_IMAGE": PYTHON_BASE},
    )
    try:
        with running(worker):
            login(bob)
            page.goto(f"{live_server.url}/p/{project.slug}/c/nightly/builds/")
            expect(page.locator(".empty")).to_contain_text("No builds yet")
            page.locator("#build-button").click()

            expect(page.locator(".flash-success")).to_contain_text("queued for commit")
            expect(page.get_by_role("heading", name="Build #")).to_be_visible()
            # The page is never reloaded from here on: HTMX appends lines and swaps the badge.
            page.evaluate("window.__sameDocument = true")
            log = page.locator("#build-log-lines")
            status = page.locator("#build-status")

            expect(log).to_contain_text(f"compiling part 1 of 6 ({token})", timeout=60_000)
            expect(status).to_have_text("Running")
            lines_while_running = log.locator(".line").count()
            assert f"part 6 of 6 ({token})" not in log.inner_text()

            expect(status).to_have_text("Succeeded", timeout=60_000)
            expect(status).to_have_attribute("class", "badge badge-succeeded")
            expect(log).to_contain_text(f"compiling part 6 of 6 ({token})")
            expect(log.locator(".line").last).to_contain_text("Build succeeded: sha256:")
            assert log.locator(".line").count() > lines_while_running
            assert "\n\n" not in log.inner_text(), "appended lines leave no blank lines between"
            assert page.evaluate("window.__sameDocument") is True
            # Lines carry their time; the poller is gone once the build ended.
            expect(log.locator(".line .ts").first).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))
            expect(page.locator("#build-log-poller[data-finished=true]")).to_have_count(1)
            expect(page.locator("#build-summary")).to_contain_text("Nightly <report>")
    finally:
        remove_images(Build.objects.exclude(image_ref="").values_list("image_ref", flat=True))
