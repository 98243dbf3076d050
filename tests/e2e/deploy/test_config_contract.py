"""The config contract in Chromium, with a real build and real runs (local runtime, a real
Celery worker): the session-timeout-logger sample declares SESSIONS_URL required in its
chorus.toml, so

deploy to Development → the form asks for SESSIONS_URL (suggesting the bundled list) and
refuses without it → deployed with it, a run succeeds on the bundled list → promote → the
promotion page lists SESSIONS_URL missing in Production and refuses until it is set → set in
the promote form, accepted → a Production run reads the Production value.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.deploy.test_deploy_flow import SESSIONS, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def run_now(page, card):
    card.get_by_role("link", name="Run now").click()
    page.get_by_role("button", name="Run now").click()
    page.wait_for_url(re.compile(r"/p/[^/]+/executions/\d+/$"))
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def test_required_setting_is_asked_for_at_deploy_and_at_promotion(
    page, live_server, login, project, alice, worker, shared
):
    from components.services import component_create
    from deployments.models import Build, ConfigVar, Deployment, Execution

    component_create(
        project=project,
        actor=alice,
        name="sessions",
        source_kind="sample",
        sample_key="session-timeout-logger",
    )
    base = live_server.url
    login(alice)

    # A real build: its chorus.toml is read into the build.
    page.goto(f"{base}/p/{project.slug}/c/sessions/")
    page.get_by_role("button", name="Build now").click()
    expect(page.locator("#build-status")).to_have_attribute(
        "data-status", "succeeded", timeout=180_000
    )
    build = Build.objects.get(component__name="sessions")
    assert build.manifest["config"]["SESSIONS_URL"]["required"] is True

    # 1. The deploy form asks for the required setting, suggesting the bundled list.
    page.goto(f"{base}/p/{project.slug}/c/sessions/deploy/")
    dev_card = page.locator("#env-dev")
    form = dev_card.locator("form.deploy")
    field = form.locator("input[name=config_SESSIONS_URL]")
    expect(form.locator(".config-contract legend")).to_contain_text(
        f"Settings declared by build #{build.pk}'s chorus.toml"
    )
    expect(form.locator("label[for=id_dev_config_SESSIONS_URL]")).to_have_text(
        "SESSIONS_URL (required)"
    )
    expect(field).to_have_value("demo-sessions.json")
    expect(form.locator("[data-setting=SESSIONS_URL]")).to_contain_text(
        "Where the JSON session list is"
    )
    form.locator("input[name=schedule]").fill("*/30 * * * *")

    # Without it the deploy is refused, saying which key.
    field.fill("")
    form.get_by_role("button", name="Deploy to Development").click()
    expect(page.locator(".flash-error")).to_contain_text("Set SESSIONS_URL in Development first")
    expect(page.locator("[data-setting=SESSIONS_URL] .error")).to_have_text(
        "SESSIONS_URL is required: enter a value."
    )
    assert not Deployment.objects.exists()

    # With the suggestion it deploys; a run reads the bundled list and succeeds.
    page.locator("input[name=config_SESSIONS_URL]").fill("demo-sessions.json")
    page.get_by_role("button", name="Deploy to Development").click()
    expect(page.locator(".flash-success")).to_contain_text("Deployed build")
    assert ConfigVar.objects.get(environment__slug="dev", key="SESSIONS_URL").value == (
        "demo-sessions.json"
    )
    dev_run = run_now(page, page.locator("#env-dev"))
    wait_until(
        lambda: Execution.objects.filter(pk=dev_run, status="succeeded").exists(),
        120,
        "the Development run to succeed",
    )
    expect(page.locator("#execution-log")).to_contain_text("Checked 3 sessions", timeout=30_000)

    # 2. The promotion page lists the key missing in Production.
    page.goto(f"{base}/p/{project.slug}/c/sessions/deploy/")
    page.locator("#promote-prod").click()
    missing = page.locator("#promote-config tr[data-key=SESSIONS_URL]")
    expect(missing).to_contain_text("required — missing in Production")
    expect(missing).to_contain_text("demo-sessions.json")  # what Development has
    expect(page.locator("#promote-config tr[data-key=SESSION_TIMEOUT_MINUTES]")).to_contain_text(
        "default applies"
    )
    prod_field = page.locator("input[name=config_SESSIONS_URL]")
    expect(prod_field).to_have_value("")  # Production is never pre-filled

    # ... and refuses while it is not set.
    page.get_by_role("button", name="Promote build").click()
    expect(page.locator(".flash-error")).to_contain_text("Set SESSIONS_URL in Production first")
    assert not Deployment.objects.filter(environment__slug="prod").exists()

    # 3. Set in the promote form: accepted, and Production runs with its own value.
    sessions = shared / "prod-sessions.json"
    sessions.write_text(SESSIONS)
    page.locator("input[name=config_SESSIONS_URL]").fill(str(sessions))
    page.get_by_role("button", name="Promote build").click()
    expect(page.locator(".flash-success")).to_contain_text("from Development to Production")
    prod = Deployment.objects.get(environment__slug="prod")
    assert prod.build_id == build.pk
    assert ConfigVar.objects.get(environment__slug="prod", key="SESSIONS_URL").value == str(
        sessions
    )
    prod_run = run_now(page, page.locator("#env-prod"))
    wait_until(
        lambda: Execution.objects.filter(pk=prod_run, status="succeeded").exists(),
        120,
        "the Production run to succeed",
    )
    expect(page.locator("#execution-log")).to_contain_text("Checked 1 session", timeout=30_000)
