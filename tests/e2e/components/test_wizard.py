"""Create components through the wizard in Chromium: from a sample, a git URL, GitHub."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.github_standin import GitHubStandin
from tests.support.gitrepos import BareRepo

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
]


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_create_from_a_sample(javascript, browser, live_server, project, alice, password):
    ctx = browser.new_context(java_script_enabled=javascript)
    page = ctx.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", alice.username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/p/{project.slug}/")
    page.locator("nav.mainnav").get_by_role("link", name="Components").click()
    expect(page.get_by_role("heading", name="No components yet")).to_be_visible()
    page.get_by_role("link", name="Create a component").click()

    page.get_by_label("A built-in sample").check()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Choose a sample")).to_be_visible()
    page.get_by_text("Session timeout logger").click()
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_role("heading", name="Confirm")).to_be_visible()
    expect(page.locator("#detection")).to_contain_text("python3 main.py")
    expect(page.locator("input[name=name]")).to_have_value("session-timeout-logger")
    page.fill("input[name=name]", "sessions")
    page.fill("textarea[name=description]", "Logs idle sessions")
    page.get_by_role("button", name="Create component").click()

    expect(page.get_by_role("heading", name="sessions")).to_be_visible()
    expect(page.locator(".flash-success")).to_contain_text("Component “sessions” created")
    expect(page.locator("#source")).to_contain_text("Built-in sample")
    expect(page.locator("#source")).to_contain_text("session-timeout-logger")
    expect(page.locator("#preset")).to_have_text("Python")
    expect(page.locator("#entry")).to_have_text("python3 main.py")
    expect(page.locator("nav.tabs").get_by_role("link", name="Deploy")).to_have_attribute(
        "href", f"/p/{project.slug}/c/sessions/deploy/"
    )

    page.get_by_role("link", name="Components").first.click()
    expect(page.locator("#components")).to_contain_text("sessions")
    expect(page.locator("#components")).to_contain_text("never built")
    expect(page.locator("#components")).to_contain_text("not deployed")
    ctx.close()


def test_create_from_a_git_url(page, live_server, login, project, alice, tmp_path):
    repo = BareRepo.create(tmp_path / "team" / "tasks.git")
    repo.commit(
        {
            "jobs/report/main.py": "print('report')\n",
            "jobs/report/requirements.txt": "",
            "jobs/report/chorus.toml": 'entry = "python3 main.py --daily"\n',
            "docs/index.md": "docs\n",
        },
        message="add the report task",
    )
    login(alice)
    page.goto(f"{live_server.url}/p/{project.slug}/components/new/")
    page.get_by_label("Any git URL").check()
    page.get_by_role("button", name="Next").click()

    # A branch that does not exist: a message on the form, the input kept.
    page.fill("input[name=git_url]", repo.url)
    page.fill("input[name=branch]", "release")
    page.get_by_role("button", name="Next").click()
    expect(page.locator(".error")).to_contain_text("“release” is not a branch or tag")
    page.fill("input[name=branch]", "main")
    page.get_by_role("button", name="Next").click()

    expect(page.get_by_role("heading", name="Path of the task")).to_be_visible()
    expect(page.locator("#wizard")).to_contain_text("jobs/")
    page.fill("input[name=path]", "docs")
    page.get_by_role("button", name="Next").click()
    expect(page.locator(".error")).to_contain_text("No Dockerfile and no Python project")
    page.fill("input[name=path]", "jobs/report")
    page.get_by_role("button", name="Next").click()

    expect(page.locator("#detection")).to_contain_text("Found a Python project")
    expect(page.locator("#detection")).to_contain_text("python3 main.py --daily")
    expect(page.locator("input[name=name]")).to_have_value("report")
    page.get_by_label("Build automatically on every push").check()
    page.get_by_role("button", name="Create component").click()

    expect(page.get_by_role("heading", name="report")).to_be_visible()
    expect(page.locator("#source")).to_contain_text(repo.url)
    expect(page.locator("#source")).to_contain_text("jobs/report")
    expect(page.locator("#preset")).to_have_text("Python")
    expect(page.locator("#entry")).to_have_text("python3 main.py --daily")

    # The webhook secret is shown on request only.
    page.get_by_role("link", name="Reveal secret").click()
    expect(page.locator("#secret-value")).to_have_text(_secret_of("report"))


def test_start_with_a_sample_on_github(
    page, live_server, login, project, alice, tmp_path, settings
):
    with GitHubStandin(token="ghp_e2e", login="octo", root=tmp_path / "gh") as gh:
        repo = gh.add_repo("octo/jobs")
        repo.commit({"README.md": "# jobs\n"}, message="init")
        settings.CHORUS_GITHUB_API_URL = gh.base_url
        login(alice)
        page.goto(f"{live_server.url}/p/{project.slug}/components/new/")
        page.get_by_label("A GitHub repository").check()
        page.get_by_role("button", name="Next").click()
        page.get_by_role("link", name="Connect a GitHub account").click()
        expect(page.locator("input[name=base_url]")).to_have_value(gh.base_url)
        page.fill("input[name=token]", "ghp_e2e")
        page.get_by_role("button", name="Connect").click()

        expect(page.locator(".flash-success")).to_contain_text("GitHub account octo connected")
        page.select_option("select[name=repository]", label="octo/jobs")
        page.get_by_role("button", name="Next").click()
        expect(page.locator("select[name=branch]")).to_have_value("main")
        page.get_by_role("button", name="Next").click()
        page.get_by_label("Health check").check()
        page.get_by_role("button", name="Next").click()
        expect(page.locator("#detection")).to_contain_text("Health check")
        page.fill("input[name=name]", "uptime")
        page.get_by_role("button", name="Create component").click()

        expect(page.get_by_role("heading", name="uptime")).to_be_visible()
        expect(page.locator("#pull-request")).to_contain_text(f"{gh.base_url}/octo/jobs/pull/1")
        expect(page.locator("#preset")).to_have_text("Dockerfile")
        assert gh.pulls["octo/jobs"][0]["head"] == "chorus/uptime"
        assert "FROM" in repo.bare.show("chorus/uptime", "health-check/Dockerfile")


def _secret_of(name: str) -> str:
    from components.models import Component
    from portal import crypto

    return crypto.decrypt(Component.objects.get(name=name).webhook_secret_encrypted)
