"""A running execution's log in Chromium: polls that find nothing new keep it polling and the
running time ticking; a line written later appears; the end of the run stops the polling."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.support.obs import make_component, make_deployment, make_execution

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_live_log_follows_a_quiet_run_to_its_end(page, live_server, login, alice, project):
    from deployments.models import Execution, ExecutionLogLine

    e = make_execution(
        make_deployment(make_component(project, "importer")), "running", logs=("reading",)
    )
    login(alice)
    idle = []
    page.on(
        "response",
        lambda r: "/log/" in r.url and r.status == 200 and "execution-summary" not in r.text()
        and idle.append(r.url),
    )  # fmt: skip
    page.goto(f"{live_server.url}/p/{project.slug}/executions/{e.pk}/")
    lines = page.locator("#execution-log-lines .line")
    expect(lines).to_have_count(1)
    duration = page.locator("#execution-duration")
    first = duration.inner_text()
    expect(duration).not_to_have_text(first, timeout=5000)  # "5 min 01 s…" ticks on
    assert idle, "no poll answered with the small nothing-new response"

    ExecutionLogLine.objects.create(execution=e, seq=2, text="wrote 118 rows")
    expect(lines).to_have_count(2, timeout=5000)
    expect(lines.nth(1)).to_contain_text("wrote 118 rows")

    Execution.objects.filter(pk=e.pk).update(
        status="succeeded", exit_code=0, finished_at=timezone.now(), duration_seconds=2.5
    )
    expect(page.locator("#execution-status")).to_have_attribute("data-status", "succeeded")
    expect(page.locator("#execution-log-poller")).to_have_attribute("data-finished", "true")
    expect(duration).to_have_text("2.5 s")
