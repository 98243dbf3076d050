"""Approvals for Production in Chromium, two sessions: alice (owner) and bob (developer).

alice turns approvals on → bob asks to promote Development's build → alice, in her own
browser session, sees the diff and approves → Production runs the promoted digest (a Run now
in Production runs it through a real worker with the record runtime) → bob's next request is
rejected with a reason: Production is unchanged and bob reads the reason on the Deploy page.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.support.factories import sample_component, succeeded_build
from tests.support.processes import flush_broker, start_worker

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def worker():
    """Runs executions with the record runtime (the environments say so; no container)."""
    from deployments.models import Environment

    Environment.objects.update(runtime_kind="record")
    flush_broker()
    proc = start_worker("approvals-e2e-worker", queues="chorus,executions")
    yield proc
    proc.stop()


@pytest.fixture
def in_development(project, alice):
    """A component whose build ran successfully in Development (so Production may run it)."""
    from django.utils import timezone

    from deployments.deploy.services.lifecycle import deployment_deploy
    from deployments.models import Environment, Execution

    component = sample_component(project, "nightly-report", created_by=alice)
    build = succeeded_build(component)
    d = deployment_deploy(
        component=component, environment=Environment.objects.get(slug="dev"), build=build,
        schedule="*/5 * * * *", timezone="UTC", actor=alice,
    )  # fmt: skip
    now = timezone.now()
    Execution.objects.create(
        deployment=d, scheduled_for=now, status="succeeded", build=build, exit_code=0,
        image_ref=build.image_ref, image_digest=build.image_digest, finished_at=now,
    )  # fmt: skip
    return component, build


def test_a_developer_asks_an_owner_approves_then_rejects(
    page, browser, live_server, login, password, project, alice, bob, in_development, worker
):
    from deployments.models import Deployment, Execution

    component, build = in_development
    base = live_server.url
    deploy_url = f"{base}/p/{project.slug}/c/{component.name}/deploy/"

    # alice (owner) turns approvals on in the project settings.
    owner = login(alice)
    owner.goto(f"{base}/p/{project.slug}/settings/")
    settings_card = owner.locator("#approval-settings")
    settings_card.get_by_label("Production changes need approval").check()
    settings_card.get_by_role("button", name="Save approvals").click()
    expect(owner.locator(".flash-success")).to_contain_text(
        "Approvals for production changes are on"
    )

    # bob (developer), in a browser session of his own, asks to promote.
    bob_context = browser.new_context()
    dev = bob_context.new_page()
    dev.goto(f"{base}/login/")
    dev.fill("input[name=username]", bob.username)
    dev.fill("input[name=password]", password)
    dev.click("button[type=submit]")
    dev.wait_for_url(f"{base}/")
    dev.goto(deploy_url)
    dev.locator("#promote-prod").click()  # "Request promotion from Development…"
    dev.fill("input[name=schedule]", "0 4 * * *")
    dev.fill("textarea[name=comment]", "Green in Development all week")
    dev.locator("#request-approval").click()
    dev.wait_for_url(re.compile(r"/approvals/\d+/$"))
    expect(dev.locator(".flash-success")).to_contain_text("changes once an owner approves it")
    expect(dev.locator("#approval-status")).to_have_text("Pending")
    request_url = dev.url
    assert not Deployment.objects.filter(component=component, environment__slug="prod").exists()

    # alice finds it in the list, reads the diff and approves.
    owner.goto(f"{base}/p/{project.slug}/approvals/")
    owner.locator("#approval-list").get_by_role("link", name=re.compile(r"#\d+")).click()
    expect(owner.locator("#approval-comment")).to_have_text("Green in Development all week")
    expect(owner.locator("#approval-diff tr.changed")).to_contain_text(["Image", "Schedule"])
    expect(owner.locator("#approval-diff")).to_contain_text(build.image_digest[:19])
    owner.locator("#approve").click()
    expect(owner.locator(".flash-success")).to_contain_text("approved and applied to Production")
    expect(owner.locator("#approval-status")).to_have_text("Approved and applied")

    prod = Deployment.objects.get(component=component, environment__slug="prod")
    assert prod.build_id == build.pk and prod.build.image_digest == build.image_digest
    assert prod.schedule == "0 4 * * *"

    # bob sees the outcome; Production shows the promoted digest.
    dev.goto(request_url)
    expect(dev.locator("#approval-status")).to_have_text("Approved and applied")
    expect(dev.locator("#approval-decision")).to_contain_text("alice")
    dev.goto(deploy_url)
    expect(dev.locator("#env-prod .image-digest")).to_have_text(build.image_digest)
    expect(dev.locator("#deploy-log")).to_contain_text("approved by alice and applied")

    # Production really runs it: alice's Run now goes through the worker.
    owner.goto(deploy_url)
    owner.locator("#env-prod").get_by_role("link", name="Run now").click()
    owner.get_by_role("button", name="Run now").click()
    owner.wait_for_url(re.compile(r"/p/[^/]+/executions/\d+/$"))
    run = wait_until(
        lambda: Execution.objects.filter(deployment=prod, status="succeeded").first(),
        120,
        "the Production run to succeed",
    )
    assert run.build_id == build.pk and run.image_ref == build.image_ref

    # A second request is rejected (with a confirmation and a reason): nothing changes.
    dev.goto(deploy_url)
    dev.locator("#env-prod details.policies summary").click()
    dev.locator("#env-prod").get_by_role("link", name="Request a policy change").click()
    dev.fill("input[name=max_retries]", "7")
    dev.get_by_role("button", name="Request approval for these policies").click()
    dev.wait_for_url(re.compile(r"/approvals/\d+/$"))
    second_url = dev.url
    before = Deployment.objects.values().get(pk=prod.pk)

    owner.goto(second_url)
    owner.locator("#reject").click()  # htmx puts the confirmation under the buttons
    confirm = owner.locator("#decision #reject-form")
    expect(confirm).to_contain_text("Nothing changes in Production")
    confirm.locator("textarea[name=reason]").fill("Seven retries would hide an outage")
    confirm.get_by_role("button", name=re.compile("Reject request")).click()
    expect(owner.locator(".flash-success")).to_contain_text("rejected; Production unchanged")

    assert Deployment.objects.values().get(pk=prod.pk) == before
    dev.goto(deploy_url)
    rejected = dev.locator("#approval-requests tr.approval-rejected")
    expect(rejected.locator(".approval-status")).to_have_text("Rejected")
    expect(rejected.locator(".approval-outcome")).to_contain_text(
        "Seven retries would hide an outage"
    )
    expect(dev.locator("#deploy-log")).to_contain_text("rejected by alice")
    bob_context.close()
