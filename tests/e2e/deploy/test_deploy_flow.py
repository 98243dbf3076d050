"""A new user's path from a sample to Production, in Chromium, with a real Celery worker.

create a component from a sample → build → deploy to Development every minute in
Europe/Berlin (the form's suggested SESSIONS_URL kept) → (promotion refused: the build has not
run yet) → Run now in Development → promote to Production at 0 2 * * *, giving Production its
SESSIONS_URL → both PeriodicTasks exist with the right crontab and
timezone, and the component's Deploy page shows both deployments in words with next runs.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


SESSIONS = '[{"id": "s-1", "user": "alice", "last_seen": "2024-05-01T09:00:00Z"}]\n'


def test_sample_to_production(page, live_server, login, project, alice, worker, shared):
    from django_celery_beat.models import PeriodicTask

    from deployments.models import Build, Deployment, Execution

    base = live_server.url
    login(alice)

    # 1. Create a component from a sample.
    page.goto(f"{base}/p/{project.slug}/components/new/")
    page.get_by_label("A built-in sample").check()
    page.get_by_role("button", name="Next").click()
    page.get_by_text("Session timeout logger").click()
    page.get_by_role("button", name="Next").click()
    page.fill("input[name=name]", "sessions")
    page.get_by_role("button", name="Create component").click()
    expect(page.get_by_role("heading", name="sessions")).to_be_visible()

    # 2. Build it (the worker builds with the local runtime).
    page.get_by_role("button", name="Build now").click()
    expect(page.locator("#build-status")).to_have_attribute(
        "data-status", "succeeded", timeout=180_000
    )
    build = Build.objects.get(component__name="sessions")
    assert build.status == "succeeded" and build.image_digest

    # 3. Deploy to Development every minute in Europe/Berlin, watching the live preview.
    page.goto(f"{base}/p/{project.slug}/c/sessions/")
    page.locator("nav.tabs").get_by_role("link", name="Deploy").click()
    dev_card = page.locator("#env-dev")
    expect(dev_card).to_contain_text("Not deployed in Development.")
    form = dev_card.locator("form.deploy")
    form.locator("input[name=schedule]").fill("* * * * *")
    form.locator("input[name=timezone]").fill("Europe/Berlin")
    expect(form.locator(".schedule-preview")).to_contain_text("Every minute")
    expect(form.locator(".next-run")).to_have_count(5)
    form.locator("input[name=schedule]").fill("61 * * * *")
    expect(form.locator(".schedule-error")).to_contain_text('Invalid minute field "61"')
    form.locator("input[name=schedule]").fill("* * * * *")
    form.get_by_role("button", name="Deploy to Development").click()
    expect(page.locator(".flash-success")).to_contain_text(
        "Development: Every minute (Europe/Berlin)"
    )
    expect(dev_card.locator(".schedule-words")).to_have_text("Every minute")
    expect(dev_card.locator(".timezone")).to_have_text("Europe/Berlin")
    expect(dev_card.locator(".next-run")).to_have_count(5)
    expect(dev_card.locator(".image-digest")).to_have_text(build.image_digest)

    # 4. Promoting before the build ran in Development is refused with a reason.
    page.locator("#promote-prod").click()
    expect(page.locator("#source-schedule")).to_have_text("* * * * *")
    page.get_by_role("button", name="Promote build").click()
    expect(page.locator(".flash-error")).to_contain_text(
        "has not run successfully in Development yet"
    )

    # 5. Configure where the sample reads sessions from, run it now, wait for success.
    sessions = shared / "sessions.json"
    sessions.write_text(SESSIONS)
    page.goto(f"{base}/p/{project.slug}/c/sessions/deploy/")
    dev_card.locator("details.config > summary").click()
    config_form = dev_card.locator("form.config-add")
    config_form.locator("input[name=key]").fill("SESSIONS_URL")
    config_form.locator("textarea[name=value]").fill(str(sessions))
    config_form.get_by_role("button", name="Save variable").click()
    expect(page.locator(".flash-success")).to_contain_text("Variable SESSIONS_URL saved")
    dev_card.get_by_role("link", name="Run now").click()
    page.get_by_role("button", name="Run now").click()
    page.wait_for_url(re.compile(r"/p/[^/]+/executions/\d+/$"))  # the run's own page
    dev = Deployment.objects.get(component__name="sessions", environment__slug="dev")
    wait_until(
        lambda: Execution.objects.filter(deployment=dev, status="succeeded").exists(),
        120,
        "the Development run to succeed",
    )

    # 6. Promote to Production at 02:00, seeing the diff first.
    page.goto(f"{base}/p/{project.slug}/c/sessions/deploy/")
    page.locator("#promote-prod").click()
    page.fill("input[name=schedule]", "0 2 * * *")
    expect(page.locator(".schedule-preview")).to_contain_text("At 02:00")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#promote-diff tr.changed")).to_contain_text(["Image", "Schedule"])
    expect(page.locator("#promote-diff")).to_contain_text("0 2 * * * — At 02:00")
    # The sample declares SESSIONS_URL required: Production gets its own value on the way.
    page.fill("input[name=config_SESSIONS_URL]", str(sessions))
    page.get_by_role("button", name="Promote build").click()
    expect(page.locator(".flash-success")).to_contain_text("from Development to Production")

    # 7. Both deployments, in words, with next runs; the same image in both.
    prod_card = page.locator("#env-prod")
    expect(prod_card.locator(".schedule-words")).to_have_text("At 02:00")
    expect(prod_card.locator(".timezone")).to_have_text("Europe/Berlin")
    expect(prod_card.locator(".next-run")).to_have_count(5)
    expect(prod_card.locator(".next-run").first).to_contain_text("02:00 CE")
    expect(prod_card.locator(".image-digest")).to_have_text(build.image_digest)
    expect(dev_card.locator(".schedule-words")).to_have_text("Every minute")
    expect(page.locator("#deploy-log")).to_contain_text("Promoted from Development")

    tasks = {
        d.environment.slug: PeriodicTask.objects.select_related("crontab").get(
            pk=d.periodic_task_id
        )
        for d in Deployment.objects.filter(component__name="sessions")
    }
    dev_cron, prod_cron = tasks["dev"].crontab, tasks["prod"].crontab
    assert (dev_cron.minute, dev_cron.hour, str(dev_cron.timezone)) == ("*", "*", "Europe/Berlin")
    assert (prod_cron.minute, prod_cron.hour, str(prod_cron.timezone)) == (
        "0",
        "2",
        "Europe/Berlin",
    )
    assert all(t.enabled and t.task == "chorus.execution.tick" for t in tasks.values())

    # The component's overview lists both environments as deployed.
    page.goto(f"{base}/p/{project.slug}/c/sessions/")
    expect(page.locator("#deployments")).to_contain_text("Development")
    expect(page.locator("#deployments")).to_contain_text("Production")
    expect(page.locator("#deployments")).not_to_contain_text("not deployed")
