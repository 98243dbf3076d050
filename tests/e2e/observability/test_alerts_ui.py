"""A developer sets up alerting in the browser; the alert and the recovery arrive once each."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from observability.tasks import execution_finished_task
from tests.support.obs import make_component, make_deployment, make_execution

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[3] / "var" / "e2e"


def test_developer_sets_up_a_webhook_alert(page, live_server, login, bob, project, receiver):
    component = make_component(project, "nightly-report")
    deployment = make_deployment(component, env="prod", max_retries=2)
    login(bob)
    page.goto(f"{live_server.url}/p/{project.slug}/c/nightly-report/dashboard/")
    page.get_by_role("navigation", name="Component").get_by_role("link", name="Alerts").click()
    expect(page.get_by_text("nobody is told when nightly-report fails")).to_be_visible()

    # A channel: a bad URL is refused with a message, a good one is stored and hidden.
    form = page.locator("#channel-form")
    form.get_by_label("Name").fill("team-slack")
    form.get_by_label("Kind").select_option("webhook")
    form.get_by_label("Webhook URL").fill("slack.example.com/hook")
    form.get_by_role("button", name="Add channel").click()
    expect(page.locator("#channel-form .error")).to_contain_text("http:// or https://")
    form = page.locator("#channel-form")
    form.get_by_label("Webhook URL").fill(receiver.url)
    form.get_by_role("button", name="Add channel").click()
    expect(page.locator(".flash-success")).to_contain_text("Channel “team-slack” added")
    channels = page.locator("#alert-channels")
    expect(channels).to_contain_text("127.0.0.1")
    expect(channels).not_to_contain_text("secret")  # the URL's credential never comes back

    channels.get_by_role("button", name="Send test").click()
    expect(page.locator(".flash-success")).to_contain_text("Test message sent")
    assert "Test message from Chorus" in receiver.wait_for(1)[0]

    # A rule: N is required for "consecutive failures".
    rule = page.locator("#rule-form")
    rule.get_by_label("Alert").select_option("consecutive_failures")
    rule.get_by_label("Channel").select_option(label="team-slack")
    rule.get_by_role("button", name="Add rule").click()
    expect(page.locator("#rule-form .error")).to_contain_text("needs a number")
    rule = page.locator("#rule-form")
    rule.get_by_label("Alert").select_option("on_failure")
    rule.get_by_label("Environment").select_option("prod")
    rule.get_by_label("Channel").select_option(label="team-slack")
    rule.get_by_role("button", name="Add rule").click()
    expect(page.locator("#alert-rules")).to_contain_text("On failure")
    expect(page.locator("#alert-rules")).to_contain_text("Production")

    # The task fails on every attempt of one tick, then succeeds on the next tick.
    tick = timezone.now() - dt.timedelta(minutes=10)
    for attempt in (1, 2, 3):
        e = make_execution(deployment, "failed", scheduled_for=tick, attempt=attempt, exit_code=2)
        execution_finished_task(e.pk)
    ok = make_execution(deployment, "succeeded", scheduled_for=tick + dt.timedelta(minutes=5))
    execution_finished_task(ok.pk)
    texts = receiver.wait_for(3)
    assert len(texts) == 3
    assert "run failed with exit code 2" in texts[1] and "recovered" in texts[2]

    page.reload()
    expect(page.locator("#incidents")).to_contain_text("run failed with exit code 2")
    expect(page.locator("#incidents")).to_contain_text("closed")
    log = page.locator("#deliveries")
    expect(log.locator("tr", has_text="Recovery")).to_contain_text("HTTP 200")
    expect(log.locator("tr", has_text="Alert")).to_contain_text("Sent")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "observability-alerts.png"), full_page=True)


def test_viewer_cannot_change_alerts(page, live_server, login, carol, project):
    make_component(project, "nightly-report")
    login(carol)
    page.goto(f"{live_server.url}/p/{project.slug}/c/nightly-report/alerts/")
    expect(page.get_by_text("Developers and owners can change alert rules.")).to_be_visible()
    expect(page.locator("#channel-form")).to_have_count(0)
