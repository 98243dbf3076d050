"""The execution log in Chromium, filtered to its errors and back."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.obs import make_component, make_deployment, make_execution

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_execution_log_filtered_to_errors(page, live_server, login, alice, project):
    d = make_deployment(make_component(project, "importer"))
    e = make_execution(
        d,
        "failed",
        logs=(
            "reading 120 rows",
            '{"level": "warning", "message": "row 7 has no email"}',
            ("stderr", "ValueError: row 9 is not UTF-8"),
            "wrote 118 rows",
        ),
    )
    login(alice)
    page.goto(f"{live_server.url}/p/{project.slug}/executions/{e.pk}/")
    lines = page.locator("#execution-log-lines .line")
    expect(lines).to_have_count(4)
    assert "row 7 has no email" in lines.nth(1).inner_text()  # the message, not the JSON

    page.get_by_role("link", name="Errors", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/p/{project.slug}/executions/{e.pk}/?level=error")
    expect(lines).to_have_count(1)
    expect(lines.first).to_contain_text("ValueError: row 9 is not UTF-8")
    expect(lines.first).to_have_class("line stderr level-error")
    expect(page.locator("#execution-log-levels [aria-current]")).to_have_text("Errors")

    page.get_by_role("link", name="Warnings and errors").click()
    expect(lines).to_have_count(2)
    page.get_by_role("link", name="All").click()
    expect(lines).to_have_count(4)
