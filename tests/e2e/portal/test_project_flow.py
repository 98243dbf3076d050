"""A new user's first minutes: log in, create a project, invite a viewer who cannot change it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_owner_creates_project_and_invites_viewer(
    page, live_server, login, alice, make_user, password, browser
):
    viewer = make_user("victor")
    login(alice)
    expect(page.get_by_role("heading", name="No projects yet")).to_be_visible()
    page.get_by_role("link", name="Create your first project").click()
    page.fill("input[name=name]", "Nightly Reports")
    page.fill("textarea[name=description]", "Jobs that email reports")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="Nightly Reports")).to_be_visible()
    expect(page.locator(".flash-success")).to_contain_text("created")

    page.get_by_role("link", name="Members").click()
    page.fill("input[name=username]", "victor")
    page.select_option("select[name=role]", "viewer")
    page.get_by_role("button", name="Add member").click()
    expect(page.locator(".flash-success")).to_contain_text("victor added as Viewer")
    expect(page.locator("table")).to_contain_text("victor")

    # The viewer, in a separate browser context, sees the project but cannot change it.
    ctx = browser.new_context()
    vpage = ctx.new_page()
    vpage.goto(f"{live_server.url}/login/")
    vpage.fill("input[name=username]", viewer.username)
    vpage.fill("input[name=password]", password)
    vpage.click("button[type=submit]")
    vpage.get_by_role("link", name="Nightly Reports").click()
    expect(vpage.get_by_role("heading", name="Nightly Reports")).to_be_visible()
    vpage.get_by_role("link", name="Settings").click()
    expect(vpage.get_by_text("Only owners can change project settings.")).to_be_visible()
    expect(vpage.get_by_role("button", name="Save", exact=True)).to_be_disabled()
    expect(vpage.get_by_role("button", name="Save approvals")).to_be_disabled()

    # Even submitting the form directly is refused with a clear 403 page, not a 500.
    resp = vpage.request.post(
        f"{live_server.url}/p/nightly-reports/settings/",
        form={"name": "Hijacked", "description": ""},
        headers={"X-CSRFToken": _csrf(vpage), "Referer": live_server.url},
    )
    assert resp.status == 403
    assert "You can’t do that here" in resp.text()
    vpage.goto(f"{live_server.url}/p/nightly-reports/delete/")
    expect(vpage.get_by_role("heading", name="You can’t do that here")).to_be_visible()
    expect(vpage.locator("body")).to_contain_text(re.compile("owner role"))
    ctx.close()


def _csrf(page) -> str:
    for c in page.context.cookies():
        if c["name"] == "csrftoken":
            return c["value"]
    raise AssertionError("no csrftoken cookie")


def test_unknown_page_and_bad_login_are_friendly(page, live_server, alice):
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("did not match")
    resp = page.goto(f"{live_server.url}/definitely/not/here/")
    assert resp.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
