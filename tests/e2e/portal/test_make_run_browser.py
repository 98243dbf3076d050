"""What a newcomer sees after `make run` on a fresh clone: Chromium against the real processes
(gunicorn from the Procfile, DEBUG off, static files from WhiteNoise), not the suite's live
server, which serves static files by itself and so could not notice them missing."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import pytest
from playwright.sync_api import expect

from tests.support.makerun import WEB_READY, MakeRun, free_port, fresh_clone

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

CONTENT_TYPES = {"stylesheet": "text/css", "script": "text/javascript"}


def _assets(page) -> list[tuple[str, str]]:
    """(kind, absolute URL) of every stylesheet and script the page references."""
    found = page.evaluate(
        """() => [
            ...[...document.querySelectorAll('link[rel=stylesheet][href]')]
                .map(e => ['stylesheet', e.href]),
            ...[...document.querySelectorAll('script[src]')].map(e => ['script', e.src]),
        ]"""
    )
    return [(kind, url) for kind, url in found]


def test_make_run_serves_a_styled_live_portal(tmp_path, browser):
    clone = fresh_clone(tmp_path / "chorus")
    port = free_port()
    run = MakeRun(clone, port, tmp_path / "make-run.log")
    try:
        m = run.wait_for(r"Chorus is at (\S+)\s+\S+\s+log in as (\S+) / (\S+)", 180)
        base, username, password = m.group(1).rstrip("/"), m.group(2), m.group(3)
        assert base == f"http://127.0.0.1:{port}"
        run.wait_for(WEB_READY, 60)

        ctx = browser.new_context()
        page = ctx.new_page()
        console_errors: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and console_errors.append(msg.text))
        page.on("pageerror", lambda exc: console_errors.append(str(exc)))
        htmx_requests: list[str] = []
        page.on(
            "request",
            lambda req: req.headers.get("hx-request") == "true" and htmx_requests.append(req.url),
        )

        page.goto(f"{base}/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        page.get_by_role("link", name="Demo").first.click()
        expect(page.get_by_role("heading", name="No components yet")).to_be_visible()

        # Every stylesheet and script answers 200 with its content type, from the hashed,
        # compressed copies collectstatic made (production storage, DEBUG off).
        assets = _assets(page)
        kinds = {kind for kind, _ in assets}
        assert kinds == {"stylesheet", "script"}, assets
        assert any(re.search(r"/static/css/chorus\.[0-9a-f]{12}\.css$", u) for _, u in assets)
        assert any(re.search(r"/htmx[\w.-]*\.[0-9a-f]{12}\.js$", u) for _, u in assets), assets
        for kind, url in assets:
            resp = page.request.get(url)
            assert resp.status == 200, (url, resp.status)
            assert resp.headers["content-type"].startswith(CONTENT_TYPES[kind]), (
                url,
                resp.headers["content-type"],
            )
            assert len(resp.body()) > 100, url
        # collectstatic wrote gzip copies only (Brotli at maximum quality took minutes of CPU
        # before the portal came up on a two-core machine).
        static_root = clone / "var" / "staticfiles"
        assert list(static_root.rglob("*.css.gz")), "no gzip copies"
        assert list(static_root.rglob("*.br")) == []
        # The styles really apply: the stylesheet's button look, not the browser's default.
        button = page.get_by_role("link", name="Create a component")
        assert button.evaluate("e => getComputedStyle(e).textDecorationLine") == "none"
        assert page.evaluate("typeof window.htmx") == "object"

        # An HTMX swap really happens: the wizard's next step replaces the form in place.
        button.click()
        page.wait_for_url(re.compile(r"/components/new/"))
        page.get_by_label("A built-in sample").check()
        before = len(htmx_requests)
        page.get_by_role("button", name="Next").click()
        expect(page.get_by_role("heading", name="Choose a sample")).to_be_visible()
        assert len(htmx_requests) > before, "the step came by HTMX, not a page load"
        assert urljoin(base, "/").rstrip("/") in htmx_requests[-1]
        assert re.search(r"/components/new/$", page.url), "swapped in place, no navigation"

        assert console_errors == []
        ctx.close()
    finally:
        run.stop()
    assert not run.group_alive(), "every process of make run stopped"
