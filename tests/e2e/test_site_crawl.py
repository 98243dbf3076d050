"""Every page a user can reach answers, and none of them leaks a secret or runs injected HTML.

A realistic project is built through the real services (a component from a built-in sample, a
succeeded build, a Development deployment every 5 minutes in Europe/Berlin promoted to
Production, plain and secret config, executions in every state with logs written through the
masking LogWriter, an alert rule). Then Chromium crawls the site breadth-first from `/`:

- as the owner and as a viewer, every page answers < 400 (the viewer may get the friendly 403
  page on owner-only pages), has one <h1> and a <title>, logs no console error, never shows the
  secret value, and never contains the raw `<script>alert(1)</script>` a task printed (the log
  views show it escaped);
- as an outsider, every project page the owner reached is the friendly 404 page.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import deque
from urllib.parse import urldefrag, urlsplit

import pytest
from django.utils import timezone

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SECRET = f"s3cr3t-VALUE-{uuid.uuid4()}"
XSS = "<script>alert(1)</script>"
XSS_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
MAX_PAGES = 200
# Query-string variants of one path (filters, pages, time ranges) add little after a few.
MAX_VARIANTS_PER_PATH = 3
SKIP_PREFIXES = ("/logout", "/admin", "/api/docs", "/static/", "/media/")


# --- the dataset ------------------------------------------------------------------------------
def _log(owner, line_model, fk_name, lines, secrets=()):
    from deployments.logs import LogWriter

    writer = LogWriter(owner=owner, line_model=line_model, fk_name=fk_name, secrets=secrets)
    for stream, text in lines:
        writer.write(text, stream)
    writer.close()


def _execution(deployment, status, minutes_ago, *, lines=(), secrets=(), **extra):
    from deployments.models import Execution, ExecutionLogLine

    when = timezone.now() - dt.timedelta(minutes=minutes_ago)
    ran = status not in ("skipped", "missed", "pending")
    finished = ran and status != "running"
    e = Execution.objects.create(
        deployment=deployment,
        scheduled_for=when,
        status=status,
        build=deployment.build,
        image_ref=deployment.build.image_ref,
        image_digest=deployment.build.image_digest,
        queued_at=when,
        started_at=when + dt.timedelta(seconds=0.4) if ran else None,
        finished_at=when + dt.timedelta(seconds=3.2) if finished else None,
        fire_lag_seconds=0.4 if ran else None,
        duration_seconds=2.8 if finished else None,
        exit_code={"succeeded": 0, "failed": 1}.get(status),
        **extra,
    )
    if lines:
        _log(e, ExecutionLogLine, "execution", lines, secrets)
    if e.is_finished:
        from observability.tasks import execution_finished_task

        execution_finished_task(e.pk)  # what the executions runner's on_commit hook enqueues
    return e


@pytest.fixture
def dataset(project, alice):
    from components.models import Component
    from components.services import component_create
    from deployments.deploy.services.config import config_set
    from deployments.deploy.services.lifecycle import deployment_deploy, deployment_promote
    from deployments.models import Build, BuildLogLine, Environment
    from observability.services.alert_config import alert_channel_create, alert_rule_create
    from portal.services import api_token_create

    dev = Environment.objects.get(slug="dev")
    prod = Environment.objects.get(slug="prod")
    component = component_create(
        project=project,
        actor=alice,
        name="session-reaper",
        description="Logs sessions idle past their timeout",
        source_kind=Component.SourceKind.SAMPLE,
        sample_key="session-timeout-logger",
    )
    # A second component that was never built: its pages show their empty states.
    component_create(
        project=project,
        actor=alice,
        name="db-cleanup",
        source_kind=Component.SourceKind.SAMPLE,
        sample_key="data-cleanup",
    )
    now = timezone.now()
    build = Build.objects.create(
        component=component,
        commit_sha="3f2a9c1e" + "0" * 32,
        ref="sample",
        commit_message="Initial sample",
        status=Build.Status.SUCCEEDED,
        preset=component.preset,
        runtime_kind="local",
        image_ref=f"chorus/{project.slug}/{component.name}:3f2a9c1",
        image_digest="sha256:" + "ab" * 32,
        triggered_by=alice,
        queued_at=now - dt.timedelta(hours=2, minutes=1),
        started_at=now - dt.timedelta(hours=2),
        finished_at=now - dt.timedelta(hours=1, minutes=58),
    )
    _log(
        build,
        BuildLogLine,
        "build",
        [
            ("stdout", "Step 1/4 : FROM python:3.12-slim"),
            ("stdout", f"echo {XSS}"),
            ("stdout", "Successfully built 3f2a9c1"),
        ],
    )
    failed_build = Build.objects.create(
        component=component,
        commit_sha="9e8d7c6b" + "0" * 32,
        status=Build.Status.FAILED,
        preset=component.preset,
        error="pip install failed: No matching distribution found for nosuchpkg",
        queued_at=now - dt.timedelta(hours=3),
        started_at=now - dt.timedelta(hours=3),
        finished_at=now - dt.timedelta(hours=3) + dt.timedelta(seconds=40),
    )
    _log(failed_build, BuildLogLine, "build", [("stderr", "ERROR: No matching distribution")])

    dev_deployment = deployment_deploy(
        component=component,
        environment=dev,
        build=build,
        schedule="*/5 * * * *",
        timezone="Europe/Berlin",
        actor=alice,
    )
    config_set(
        component=component,
        environment=dev,
        key="IDLE_TIMEOUT_MINUTES",
        value="30",
        is_secret=False,
        actor=alice,
    )
    config_set(
        component=component,
        environment=dev,
        key="SESSIONS_API_TOKEN",
        value=SECRET,
        is_secret=True,
        actor=alice,
    )
    # Before the runs, so the failure below opens an incident and records a delivery.
    channel = alert_channel_create(
        project=project,
        actor=alice,
        name="On-call mail",
        kind="email",
        email_addresses="oncall@example.com",
    )
    alert_rule_create(
        component=component, actor=alice, kind="on_failure", channel=channel, environment=dev
    )

    _execution(
        dev_deployment,
        "succeeded",
        25,
        lines=[
            ("stdout", "checking 3 sessions"),
            ("stdout", f"session note: {XSS}"),
            ("stdout", f"using token {SECRET} for the sessions API"),
            ("stderr", "session s-1 idle for 42 minutes"),
        ],
        secrets=[SECRET],
    )
    _execution(
        dev_deployment,
        "failed",
        20,
        lines=[("stderr", "Traceback (most recent call last):"), ("stderr", "KeyError: 'x'")],
        secrets=[SECRET],
    )
    _execution(dev_deployment, "timed_out", 15, lines=[("stdout", "still working…")])
    _execution(dev_deployment, "skipped", 10, reason="suspended")
    _execution(dev_deployment, "missed", 5, reason="scheduler down")
    _execution(dev_deployment, "running", 0, lines=[("stdout", "started")], secrets=[SECRET])
    _execution(
        dev_deployment,
        "succeeded",
        2,
        trigger="manual",
        triggered_by=alice,
        payload={"dry_run": True},
        lines=[("stdout", "manual run")],
    )

    deployment_promote(
        component=component,
        source_env=dev,
        target_env=prod,
        actor=alice,
        schedule="0 2 * * *",
        timezone="Europe/Berlin",
    )

    api_token_create(user=alice, name="ci-pipeline")
    return {"component": component, "build": build, "dev": dev_deployment}


# --- the crawler ------------------------------------------------------------------------------
def _login(browser, live_server, user, password):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return context, page


class Visit:
    def __init__(self, url, status, content_type, body, h1s, title, errors):
        self.url = url
        self.status = status
        self.content_type = content_type
        self.body = body
        self.h1s = h1s
        self.title = title
        self.errors = errors


def _visit(page, url: str) -> Visit:
    errors: list[str] = []

    def on_console(msg):
        if msg.type != "error":
            return
        where = (msg.location or {}).get("url", "")
        if "favicon" in where or "favicon" in msg.text:
            return
        errors.append(f"console: {msg.text} ({where})")

    def on_pageerror(exc):
        errors.append(f"pageerror: {exc}")

    page.on("console", on_console)
    page.on("pageerror", on_pageerror)
    try:
        response = page.goto(url, wait_until="load")
        assert response is not None, url
        content_type = response.headers.get("content-type", "")
        if "text/html" in content_type:
            body = page.content()
            h1s = page.locator("h1").count()
            title = page.title()
        else:
            body = response.text()
            h1s, title = None, None
    finally:
        page.remove_listener("console", on_console)
        page.remove_listener("pageerror", on_pageerror)
    # The browser reports the page's own 403/404 as a failed resource; that is the status,
    # checked separately, not an error of the page.
    if response.status >= 400:
        errors = [e for e in errors if "Failed to load resource" not in e or url not in e]
    return Visit(url, response.status, content_type, body, h1s, title, errors)


def _links(page, origin: str) -> list[str]:
    if "text/html" not in (page.evaluate("document.contentType") or ""):
        return []
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    out = []
    for href in hrefs:
        href, _ = urldefrag(href)
        parts = urlsplit(href)
        if f"{parts.scheme}://{parts.netloc}" != origin:
            continue
        if parts.path.startswith(SKIP_PREFIXES):
            continue
        out.append(href)
    return out


def _crawl(page, origin: str, *, start: str = "/") -> dict[str, Visit]:
    seen: set[str] = set()
    variants: dict[str, int] = {}
    queue = deque([origin + start])
    visits: dict[str, Visit] = {}
    while queue and len(visits) < MAX_PAGES:
        url = queue.popleft()
        if url in seen:
            continue
        seen.add(url)
        path = urlsplit(url).path
        if urlsplit(url).query:
            variants[path] = variants.get(path, 0) + 1
            if variants[path] > MAX_VARIANTS_PER_PATH:
                continue
        visit = _visit(page, url)
        visits[url] = visit
        if visit.status < 400:
            queue.extend(u for u in _links(page, origin) if u not in seen)
    return visits


def _problems(visits: dict[str, Visit], *, allow_403: bool) -> list[str]:
    problems = []
    for url, v in visits.items():
        if v.status == 403 and allow_403:
            if "You can’t do that here" not in v.body:
                problems.append(f"{url}: 403 without the friendly 403 page")
        elif v.status >= 400:
            problems.append(f"{url}: answered {v.status}")
        if SECRET in v.body:
            problems.append(f"{url}: shows the secret value")
        if XSS in v.body:
            problems.append(f"{url}: contains the raw, unescaped <script> a task printed")
        if v.h1s is not None and v.h1s != 1:
            problems.append(f"{url}: has {v.h1s} <h1> elements")
        if v.title is not None and not v.title.strip():
            problems.append(f"{url}: has no <title>")
        problems.extend(f"{url}: {e}" for e in v.errors)
    return problems


def _path(url: str) -> str:
    return urlsplit(url).path


def test_every_page_answers_and_leaks_nothing(
    page, browser, live_server, login, password, alice, carol, dave, project, dataset
):
    origin = live_server.url
    prefix = f"/p/{project.slug}/"
    component = dataset["component"]

    # --- the owner ---
    login(alice)
    owner = _crawl(page, origin)
    problems = _problems(owner, allow_403=False)
    assert not problems, "\n".join(problems)
    paths = {_path(u) for u in owner}
    c = f"{prefix}c/{component.name}/"
    for must in (
        "/",
        prefix,
        f"{prefix}components/",
        f"{prefix}components/new/",
        f"{prefix}executions/",
        f"{prefix}members/",
        c,
        f"{c}deploy/",
        f"{c}executions/",
        f"{c}dashboard/",
        f"{c}alerts/",
        f"{c}builds/{dataset['build'].pk}/",
        "/account/tokens/",
    ):
        assert must in paths, f"the crawl never reached {must}; it saw {sorted(paths)}"
    assert len(owner) >= 30, sorted(owner)

    # The task's <script> line is shown, escaped, in the build log and the execution log.
    build_page = next(
        v for u, v in owner.items() if _path(u) == f"{c}builds/{dataset['build'].pk}/"
    )
    assert XSS_ESCAPED in build_page.body
    execution_pages = [
        v for u, v in owner.items() if _path(u).startswith(f"{prefix}executions/") and v.h1s
    ]
    assert any(XSS_ESCAPED in v.body for v in execution_pages), (
        "no execution page shows the task's escaped <script> line"
    )
    # The secret was printed by the task, and stored masked: the log view shows the mask.
    assert any("using token •••• for the sessions API" in v.body for v in execution_pages)
    # The Deploy view lists the config, the secret by name only (its value is checked above).
    config = next(v for u, v in owner.items() if _path(u) == f"{c}deploy/")
    assert "SESSIONS_API_TOKEN" in config.body and "IDLE_TIMEOUT_MINUTES" in config.body

    # --- the viewer: a crawl of their own, then every page the owner reached ---
    vctx, vpage = _login(browser, live_server, carol, password)
    viewer = _crawl(vpage, origin)
    for url in owner:
        if url not in viewer and len(viewer) < 2 * MAX_PAGES:
            viewer[url] = _visit(vpage, url)
    problems = _problems(viewer, allow_403=True)
    assert not problems, "\n".join(problems)
    assert sum(v.status == 200 for v in viewer.values()) >= 20
    assert any(v.status == 403 for v in viewer.values()), "the viewer was refused nothing"
    vctx.close()

    # --- the outsider: the project's pages do not exist for them ---
    dctx, dpage = _login(browser, live_server, dave, password)
    home = _visit(dpage, origin + "/")
    assert home.status == 200 and project.name not in home.body
    outsider_problems = []
    for url in owner:
        if not _path(url).startswith(prefix):
            continue
        v = _visit(dpage, url)
        if v.status != 404 or "Page not found" not in v.body:
            outsider_problems.append(f"{url}: answered {v.status} to an outsider")
        if SECRET in v.body or component.name in v.body:
            outsider_problems.append(f"{url}: shows the project's data to an outsider")
        outsider_problems.extend(f"{url}: {e}" for e in v.errors)
    assert not outsider_problems, "\n".join(outsider_problems)
    dctx.close()
