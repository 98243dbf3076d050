"""The component dashboard in Chromium: its chart shows what the database holds."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from deployments.models import Execution
from observability.tasks import execution_finished_task
from tests.support.obs import make_component, make_deployment, make_execution

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[3] / "var" / "e2e"
STATUSES = ["succeeded", "partial", "failed", "timed_out", "missed", "skipped", "cancelled"]


def _finish(deployment, status, when, **kw):
    e = make_execution(deployment, status, scheduled_for=when, **kw)
    execution_finished_task(e.pk)  # what the executions runner's hook enqueues
    return e


@pytest.fixture
def deployment(project):
    component = make_component(project, "nightly-report")
    d = make_deployment(component, env="prod", schedule="*/10 * * * *", max_retries=1)
    now = timezone.now()
    plan = [  # (hours ago, statuses of that hour's ticks)
        (5, ["succeeded", "succeeded", "failed"]),
        (3, ["succeeded", "timed_out", "missed"]),
        (2, ["failed", "failed", "succeeded", "skipped"]),
        (0, ["succeeded"]),
    ]
    for hours_ago, statuses in plan:
        hour = (now - dt.timedelta(hours=hours_ago)).replace(minute=0, second=0, microsecond=0)
        for i, status in enumerate(statuses):
            when = hour + dt.timedelta(minutes=i * 10)
            if when > now:
                when = now - dt.timedelta(seconds=30 + i)
            _finish(d, status, when, duration=1.5 + i, lag=0.05 * (i + 1))
    return d


def _db_counts(deployment, start=None, end=None) -> dict[str, int]:
    qs = Execution.objects.filter(deployment=deployment)
    if start is not None:
        qs = qs.filter(scheduled_for__gte=start, scheduled_for__lt=end)
    return {s: qs.filter(status=s).count() for s in STATUSES}


def _row_counts(row) -> dict[str, int]:
    return {s: int(row.locator(f'td[data-series="{s}"]').inner_text()) for s in STATUSES}


def test_dashboard_chart_matches_the_database(page, live_server, login, alice, project, deployment):
    login(alice)
    url = f"{live_server.url}/p/{project.slug}/c/nightly-report/dashboard/?env=prod&range=24h"
    page.goto(url)
    expect(page.get_by_role("heading", name="nightly-report")).to_be_visible()
    page.wait_for_function("document.documentElement.dataset.chartsReady === '1'")

    # One way to the alerts (the tab), and the Range label lines up with the other labels.
    expect(page.get_by_role("link", name="Alerts", exact=True)).to_have_count(1)
    env_label = page.locator("label[for=env]").bounding_box()
    range_label = page.locator("#range-label").bounding_box()
    assert abs(range_label["y"] - env_label["y"]) <= 1, (range_label, env_label)

    # The table behind the chart is collapsed under "Show the numbers"; open it.
    numbers = page.locator("#chart-numbers")
    expect(numbers).not_to_have_attribute("open", "")
    expect(page.locator("#chart-table")).to_be_hidden()
    numbers.locator("summary", has_text="Show the numbers").click()
    expect(page.locator("#chart-table")).to_be_visible()

    # The table behind the chart: totals and every hourly bucket equal the database.
    table = page.locator("#chart-table")
    total = _row_counts(table.locator("tfoot tr"))
    assert total == _db_counts(deployment)
    assert total["succeeded"] == 5 and total["failed"] == 3
    rows = table.locator("tbody tr")
    assert rows.count() == 24
    for i in range(rows.count()):
        row = rows.nth(i)
        start = dt.datetime.fromisoformat(row.get_attribute("data-start"))
        assert _row_counts(row) == _db_counts(deployment, start, start + dt.timedelta(hours=1))

    # The chart itself draws the same series as the table.
    drawn = page.evaluate(
        """() => Object.fromEntries(Chart.getChart('chart-counts').data.datasets
               .map(d => [d.key, d.data.reduce((a, b) => a + b, 0)]))"""
    )
    assert drawn == total
    expect(page.locator('[data-stat="success-rate"]')).to_have_text("55.6%")  # 5 of 9 runs

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "observability-dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    # Hovering a bar shows its exact numbers.
    chart_box = page.locator("#chart-counts").bounding_box()
    bar = page.evaluate(
        """() => { const c = Chart.getChart('chart-counts');
                   const ds = c.data.datasets.findIndex(d => d.key === 'failed');
                   const i = c.data.datasets[ds].data.findIndex(v => v === 2);
                   const el = c.getDatasetMeta(ds).data[i];
                   return {x: el.x, y: (el.y + el.base) / 2, i}; }"""
    )
    page.mouse.move(chart_box["x"] + bar["x"], chart_box["y"] + bar["y"])
    # Chart.js draws the tooltip on its next animation frame after the pointer event.
    page.wait_for_function(
        """() => { const t = Chart.getChart('chart-counts').tooltip;
                   return !!(t && t.body && t.body.length && t.footer); }"""
    )
    tooltip = page.evaluate(
        """() => { const t = Chart.getChart('chart-counts').tooltip;
                   return {lines: t.body.map(b => b.lines.join(' ')), footer: t.footer}; }"""
    )
    assert "Failed: 2" in tooltip["lines"] and "Succeeded: 1" in tooltip["lines"]
    assert tooltip["footer"][0].startswith("Total 4")

    # Clicking it opens the executions of that bucket and status.
    page.mouse.click(chart_box["x"] + bar["x"], chart_box["y"] + bar["y"])
    page.wait_for_url(re.compile(r"/p/payments/executions/\?component=nightly-report&"))
    query = parse_qs(urlsplit(page.url).query)
    start = dt.datetime.fromisoformat(query["from"][0])
    assert query["env"] == ["prod"] and query["status"] == ["failed"]
    assert dt.datetime.fromisoformat(query["to"][0]) - start == dt.timedelta(hours=1)
    assert _db_counts(deployment, start, start + dt.timedelta(hours=1))["failed"] == 2
    # ...and the list shows exactly those two executions.
    rows = page.locator("#executions-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.locator(".badge")).to_have_text(["Failed", "Failed"], ignore_case=True)


def test_dashboard_refreshes_itself(page, live_server, login, alice, project, deployment):
    login(alice)
    page.goto(f"{live_server.url}/p/{project.slug}/c/nightly-report/dashboard/?env=prod")
    page.locator("#chart-numbers summary").click()
    failed = page.locator('#chart-table tfoot td[data-series="failed"]')
    expect(failed).to_have_text("3")
    _finish(deployment, "failed", timezone.now() - dt.timedelta(seconds=5))
    # No reload: the HTMX poll (every 10 s) swaps in the new numbers and the chart follows.
    expect(failed).to_have_text("4", timeout=15_000)
    # The swap keeps the numbers open for the reader who opened them.
    expect(page.locator("#chart-numbers")).to_have_attribute("open", "")
    expect(failed).to_be_visible()
    page.wait_for_function(
        """() => Chart.getChart('chart-counts').data.datasets
                 .find(d => d.key === 'failed').data.reduce((a, b) => a + b, 0) === 4"""
    )


def test_overview_shows_the_deployed_task(page, live_server, login, alice, project, deployment):
    login(alice)
    page.goto(f"{live_server.url}/p/{project.slug}/")
    row = page.locator(f'tr[data-deployment="{deployment.pk}"]')
    expect(row).to_contain_text("nightly-report")
    expect(row).to_contain_text("Production")
    expect(row).to_contain_text("Every 10 minutes")
    expect(row.locator(".strip i")).to_have_count(11)  # one slot per tick
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "observability-overview.png"), full_page=True)
    row.get_by_role("link", name="nightly-report").click()
    page.wait_for_url(re.compile(r"/c/nightly-report/dashboard/\?env=prod"))
