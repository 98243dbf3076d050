"""Overview, dashboard, explorer and alerts pages: what members see, what outsiders cannot."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.http import QueryDict
from django.utils import timezone

from observability.models import AlertChannel, AlertRule
from observability.services.rollups import hour_floor, rollup_recompute_range
from tests.support.obs import make_component, make_deployment, make_execution

pytestmark = pytest.mark.django_db

ROLES = ["owner", "developer", "viewer", "outsider"]


@pytest.fixture
def setup(project):
    component = make_component(project)
    prod = make_deployment(component, env="prod", schedule="*/5 * * * *")
    hour = hour_floor(timezone.now()) - dt.timedelta(hours=2)
    for i, status in enumerate(["succeeded"] * 4 + ["failed"] * 2 + ["missed"]):
        make_execution(
            prod,
            status,
            scheduled_for=hour + dt.timedelta(minutes=5 * i),
            logs=(f"run {i}", "ERROR disk full" if status == "failed" else "all good"),
        )
    rollup_recompute_range(start=hour)
    return component, prod


# --- permission matrix ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/p/{p}/",
        "/p/{p}/executions/",
        "/p/{p}/schedule-load/",
        "/p/{p}/c/{c}/dashboard/",
        "/p/{p}/c/{c}/alerts/",
    ],
)
@pytest.mark.parametrize("role", ROLES)
def test_read_pages_are_for_members_only(setup, project, users_by_role, client_for, path, role):
    component, _ = setup
    resp = client_for(users_by_role[role]).get(path.format(p=project.slug, c=component.name))
    assert resp.status_code == (404 if role == "outsider" else 200)


@pytest.mark.parametrize("role", ROLES)
def test_managing_alerts_needs_developer(setup, project, users_by_role, client_for, role):
    component, _ = setup
    c = client_for(users_by_role[role])
    base = f"/p/{project.slug}/c/{component.name}/alerts"
    resp = c.post(
        f"{base}/channels/",
        {"channel-name": "ops", "channel-kind": "email", "channel-email_addresses": "ops@x.com"},
    )
    expected = {"owner": 302, "developer": 302, "viewer": 403, "outsider": 404}[role]
    assert resp.status_code == expected
    assert AlertChannel.objects.filter(name="ops").exists() == (expected == 302)

    channel = AlertChannel.objects.create(project=project, name="pre", kind="email")
    resp = c.post(f"{base}/rules/", {"rule-kind": "on_failure", "rule-channel": channel.pk})
    assert resp.status_code == expected
    assert AlertRule.objects.filter(component=component).exists() == (expected == 302)

    rule = AlertRule.objects.create(component=component, kind="missed_tick", channel=channel)
    resp = c.post(f"{base}/rules/{rule.pk}/delete/")
    assert resp.status_code == expected
    assert AlertRule.objects.filter(pk=rule.pk).exists() == (expected != 302)


def test_viewer_sees_alerts_but_no_forms(setup, project, carol, client_for):
    component, _ = setup
    html = client_for(carol).get(f"/p/{project.slug}/c/{component.name}/alerts/").content.decode()
    assert "Developers and owners can change alert rules." in html
    assert 'id="rule-form"' not in html and 'id="channel-form"' not in html


# --- what the pages show ----------------------------------------------------------------------
def test_overview_lists_deployed_tasks_with_rate_strip_and_schedule(
    setup, project, carol, client_for
):
    component, prod = setup
    c = client_for(carol)
    html = c.get(f"/p/{project.slug}/").content.decode()
    row = re.search(rf'<tr data-deployment="{prod.pk}">(.*?)</tr>', html, re.S).group(1)
    assert component.name in row and "Production" in row
    assert "Every 5 minutes" in row  # the schedule in words, not "*/5 * * * *"
    assert "66.7%" in row  # 4 of 6 runs succeeded (missed is not a run)
    assert row.count('<i class="succeeded"') == 4 and row.count('<i class="failed"') == 2
    assert row.count('<i class="missed"') == 1
    assert "badge-missed" in row  # the latest tick
    assert "in " in row  # next run
    # The HTMX refresh answers just the fragment.
    frag = c.get(f"/p/{project.slug}/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="project-overview")
    body = frag.content.decode()
    assert body.lstrip().startswith("<section") and "<html" not in body
    assert 'hx-trigger="every 10s"' in body


def test_overview_empty_state(project, alice, client_for):
    html = client_for(alice).get(f"/p/{project.slug}/").content.decode()
    assert "No components yet" in html
    create = f'href="/p/{project.slug}/components/new/">Create a component</a>'
    assert create in html
    make_component(project, "lonely")
    html = client_for(alice).get(f"/p/{project.slug}/").content.decode()
    assert "Nothing deployed yet" in html and "lonely" in html


def _table_totals(html: str) -> dict[str, int]:
    foot = re.search(r"<tfoot>(.*?)</tfoot>", html, re.S).group(1)
    return {k: int(v) for k, v in re.findall(r'data-series="(\w+)">(\d+)</td>', foot)}


def test_dashboard_table_and_chart_data_match_the_executions(setup, project, bob, client_for):
    component, prod = setup
    url = f"/p/{project.slug}/c/{component.name}/dashboard/"
    resp = client_for(bob).get(url, {"env": "prod", "range": "24h"})
    html = resp.content.decode()
    totals = _table_totals(html)
    assert totals["succeeded"] == 4 and totals["failed"] == 2 and totals["missed"] == 1
    chart = json.loads(
        re.search(
            r'<script id="chart-data" type="application/json">(.*?)</script>', html, re.S
        ).group(1)
    )
    assert len(chart["labels"]) == 24
    assert sum(chart["series"]["succeeded"]) == 4 and sum(chart["series"]["failed"]) == 2
    i = chart["series"]["failed"].index(2)
    assert chart["linkBase"] == f"/p/{project.slug}/executions/?component={component.name}&env=prod"
    start = dt.datetime.fromisoformat(chart["starts"][i])
    assert start == hour_floor(prod.executions.filter(status="failed").first().scheduled_for)
    assert chart["ends"][i] == (start + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "vendor/chartjs-4.6.1/chart.umd.js" in html
    # 7 days in 6-hour buckets, 30 days in days.
    for rng, n in (("7d", 28), ("30d", 30)):
        html = client_for(bob).get(url, {"env": "prod", "range": rng}).content.decode()
        assert html.count("<tr data-start=") == n
        assert _table_totals(html)["succeeded"] == 4


def test_dashboard_numbers_are_collapsed_and_alerts_is_only_a_tab(setup, project, bob, client_for):
    component, _ = setup
    url = f"/p/{project.slug}/c/{component.name}/dashboard/"
    html = client_for(bob).get(url, {"env": "prod", "range": "24h"}).content.decode()
    # The table is inside a closed <details> under "Show the numbers", still in the page.
    details = re.search(r"<details[^>]*id=\"chart-numbers\"[^>]*>(.*?)</details>", html, re.S)
    assert details, "no <details id=chart-numbers>"
    assert " open" not in details.group(0).split(">", 1)[0]
    assert "<summary>Show the numbers</summary>" in details.group(1)
    assert 'id="chart-table"' in details.group(1)
    # The Alerts tab is the one way to the alerts page: no duplicate button in the page head.
    assert html.count(f'href="/p/{project.slug}/c/{component.name}/alerts/"') == 1
    assert 'aria-labelledby="range-label"' in html and 'id="range-label">Range<' in html


def test_dashboard_custom_range_and_bad_dates(setup, project, bob, client_for):
    component, _ = setup
    url = f"/p/{project.slug}/c/{component.name}/dashboard/"
    today = timezone.now().date()
    html = (
        client_for(bob)
        .get(url, {"range": "custom", "from": str(today - dt.timedelta(days=1)), "to": str(today)})
        .content.decode()
    )
    assert html.count("<tr data-start=") == 48  # two days, hourly
    assert 'hx-trigger="every 10s"' not in html  # a fixed range does not poll
    html = client_for(bob).get(url, {"range": "custom", "from": "yesterday"}).content.decode()
    assert "is not a date" in html


def test_dashboard_reads_rollups_stored_with_other_histogram_bounds(project, bob, client_for):
    from observability.models import HourlyRollup

    component = make_component(project, "old-rows")
    prod = make_deployment(component, env="prod", schedule="0 * * * *")
    hour = hour_floor(timezone.now()) - dt.timedelta(hours=3)
    # Rows written before the bounds changed: two bins more for duration (they belong to the
    # open top bin, over an hour), three fewer for fire lag.
    HourlyRollup.objects.create(
        deployment=prod,
        hour=hour,
        succeeded=4,
        duration_hist=[0] * 15 + [2, 2],
        duration_max=7200,
        lag_hist=[4, 0, 0, 0, 0, 0, 0, 0, 0],
        lag_max=0.04,
    )
    HourlyRollup.objects.create(
        deployment=prod,
        hour=hour + dt.timedelta(hours=1),
        failed=1,
        duration_hist=[0, 0, 0, 0, 1],
        duration_max=1.5,
        lag_hist=[0, 1],
        lag_max=0.08,
    )
    url = f"/p/{project.slug}/c/{component.name}/dashboard/"
    html = client_for(bob).get(url, {"env": "prod", "range": "24h"}).content.decode()
    assert _table_totals(html)["succeeded"] == 4 and _table_totals(html)["failed"] == 1
    assert "<strong>1h 22m / 1h 56m</strong>" in html  # duration p50 / p95 of the five runs
    rows = re.findall(r'<tr data-start="([^"]+)">(.*?)</tr>', html, re.S)
    cells = {start: re.findall(r'<td class="num">([^<]*)</td>', row) for start, row in rows}
    # Success rate, duration p50 and p95, fire lag p50 and p95 of each hour.
    assert cells[hour.isoformat()] == ["100%", "1h 30m", "1h 57m", "0.02 s", "0.038 s"]
    assert cells[(hour + dt.timedelta(hours=1)).isoformat()] == [
        "0%",
        "1.25 s",
        "1.48 s",
        "0.065 s",
        "0.079 s",
    ]


@pytest.mark.parametrize(("role", "offered"), [("developer", True), ("viewer", False)])
def test_empty_overview_offers_create_a_component_to_those_who_can(
    project, users_by_role, client_for, role, offered
):
    html = client_for(users_by_role[role]).get(f"/p/{project.slug}/").content.decode()
    assert ("Create a component</a>" in html) is offered
    assert ("Developers and owners of the project can create components." in html) is not offered


def _selected_env(html: str) -> str:
    return re.search(r'<option value="(\w+)" selected>', html).group(1)


def test_dashboard_opens_on_the_environment_that_has_runs(project, bob, client_for):
    component = make_component(project, "both")
    dev = make_deployment(component, env="dev", schedule="*/5 * * * *")
    prod = make_deployment(component, env="prod", schedule="*/5 * * * *")
    url = f"/p/{project.slug}/c/{component.name}/dashboard/"

    # Nothing ran anywhere yet: Development, the first environment.
    assert _selected_env(client_for(bob).get(url).content.decode()) == "dev"

    # Only Production has runs: it opens there.
    make_execution(prod, "succeeded", scheduled_for=timezone.now() - dt.timedelta(minutes=5))
    assert _selected_env(client_for(bob).get(url).content.decode()) == "prod"

    # Both have runs: Development first; an explicit ?env= still wins.
    make_execution(dev, "failed", scheduled_for=timezone.now() - dt.timedelta(minutes=5))
    assert _selected_env(client_for(bob).get(url).content.decode()) == "dev"
    assert _selected_env(client_for(bob).get(url, {"env": "prod"}).content.decode()) == "prod"


def test_dashboard_of_an_undeployed_component(project, bob, client_for):
    component = make_component(project, "fresh")
    html = client_for(bob).get(f"/p/{project.slug}/c/{component.name}/dashboard/").content.decode()
    assert "Not deployed yet" in html


def test_explorer_filters_searches_logs_and_pages(setup, project, carol, client_for):
    component, prod = setup
    c = client_for(carol)
    url = f"/p/{project.slug}/executions/"
    html = c.get(url).content.decode()
    assert html.count("<tr data-execution=") == 7
    html = c.get(url, {"status": "failed"}).content.decode()
    assert html.count("<tr data-execution=") == 2
    html = c.get(url, {"q": "disk full"}).content.decode()
    assert html.count("<tr data-execution=") == 2
    assert "Searching logs of the last 7 days" in html
    html = c.get(url, {"q": "no such text"}).content.decode()
    assert "No executions match" in html
    html = c.get(url, {"env": "dev"}).content.decode()
    assert "No executions match" in html

    # Keyset pages of 3 walk every row exactly once, newest first, and back again.
    from observability.selectors import executions as sel

    seen: list[int] = []
    filters = sel.parse_filters(QueryDict())
    page = sel.executions_page(project=project, filters=filters, limit=3)
    pages = [page]
    while page.older:
        page = sel.executions_page(project=project, filters=filters, after=page.older, limit=3)
        pages.append(page)
    for p in pages:
        seen += [e.pk for e in p.rows]
    assert len(seen) == 7 == len(set(seen))
    times = [e.scheduled_for for p in pages for e in p.rows]
    assert times == sorted(times, reverse=True)
    back = sel.executions_page(project=project, filters=filters, before=pages[1].newer, limit=3)
    assert [e.pk for e in back.rows] == [e.pk for e in pages[0].rows]
    # The page links carry the cursor and keep the filters.
    html = c.get(url, {"status": "succeeded"}).content.decode()
    assert html.count("<tr data-execution=") == 4


def test_explorer_row_shows_the_run_as_the_user_knows_it(project, carol, client_for):
    component = make_component(project, "nightly-report")
    make_component(project, "idle-task")  # never deployed: still a choice in the filter
    dev = make_deployment(component, env="dev")
    reason = "<b>worker</b> lost & " + "x" * 80
    e = make_execution(
        dev,
        "timed_out",
        scheduled_for=dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC),
        trigger="catchup",
        attempt=2,
        duration=250.0,
        lag=0.042,
        reason=reason,
    )
    html = (
        client_for(carol)
        .get(f"/p/{project.slug}/executions/", {"component": "nightly-report"})
        .content.decode()
    )
    row = re.search(rf'<tr data-execution="{e.pk}">(.*?)</tr>', html, re.S).group(1)
    cells = [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells == [
        f'<a href="/p/{project.slug}/executions/{e.pk}/">#{e.pk}</a>',
        "2026-03-04 05:06:07",
        f'<a href="/p/{project.slug}/c/nightly-report/">nightly-report</a>',
        "Development",
        '<span class="badge badge-timed_out">timed out</span> <span class="muted">'
        "&lt;b&gt;worker&lt;/b&gt; lost &amp; " + "x" * 38 + "…</span>",
        "Catch-up",
        "2",
        "4m 10s",
        "0.042 s",
    ]
    assert '<option value="nightly-report" selected>nightly-report</option>' in html
    assert '<option value="idle-task">idle-task</option>' in html
    assert '<option value="dev">Development</option>' in html


def test_production_refuses_webhooks_into_private_networks(project, alice, settings):
    from django.core.exceptions import ValidationError

    from observability.services.alert_config import alert_channel_create

    settings.CHORUS_ALERT_WEBHOOK_ALLOW_PRIVATE = False
    for url in ("http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "http://169.254.169.254/x"):
        with pytest.raises(ValidationError, match="private address"):
            alert_channel_create(
                project=project, actor=alice, name="x", kind="webhook", webhook_url=url
            )
    assert not AlertChannel.objects.exists()


def test_overview_leaves_out_undeployed_tasks(setup, project, alice, client_for):
    from deployments.models import Deployment

    component, prod = setup
    Deployment.objects.filter(pk=prod.pk).update(status=Deployment.Status.UNDEPLOYED)
    html = client_for(alice).get(f"/p/{project.slug}/").content.decode()
    assert f'data-deployment="{prod.pk}"' not in html
    # Its history is still on the dashboard.
    dash = client_for(alice).get(f"/p/{project.slug}/c/{component.name}/dashboard/")
    assert "Production (undeployed)" in dash.content.decode()
    assert _table_totals(dash.content.decode())["succeeded"] == 4


def test_next_run_reads_in_seconds_under_a_minute():
    from datetime import timedelta

    from django.utils import timezone

    from observability.templatetags.obs import obs_until

    now = timezone.now()
    assert obs_until(now + timedelta(seconds=42.5)) in ("in 42 s", "in 41 s")
    assert obs_until(now - timedelta(seconds=1)) == "now"
    assert (
        obs_until(now + timedelta(hours=3, minutes=5, seconds=30)) == "in 3\xa0hours, 5\xa0minutes"
    )
