"""The schedule load page: where a project's schedules pile up in the next 24 hours."""

from __future__ import annotations

import re

import pytest

from tests.support.obs import make_component, make_deployment

pytestmark = pytest.mark.django_db


def rows(html: str) -> list[tuple[str, int, str]]:
    """(minute, ticks, deployments) of each row of the busiest-minutes table."""
    body = html.split('id="busiest-minutes"', 1)[1].split("</table>", 1)[0]
    out = []
    for tr in re.findall(r"<tr>\s*<td>(.*?)</tr>", body, re.S):
        cells = re.findall(r"(?:^|<td[^>]*>)(.*?)</td>", tr, re.S)
        minute = re.sub(r"<[^>]+>", "", cells[0]).strip()
        out.append((minute, int(cells[1]), cells[3].strip()))
    return out


def test_the_busiest_minute_is_where_fixed_schedules_pile_up(project, client_for, alice, dave):
    piled = [make_component(project, f"report-{i}") for i in range(3)]
    for c in piled:
        make_deployment(c, env="prod", schedule="0 2 * * *")
    spread = make_deployment(make_component(project, "spread"), env="prod", schedule="H 2 * * *")
    make_deployment(
        make_component(project, "paused"), env="prod", schedule="0 2 * * *", status="suspended"
    )
    minute = int(spread.parsed_schedule().cron.split()[0])

    page = client_for(alice).get(f"/p/{project.slug}/")
    assert f'href="/p/{project.slug}/schedule-load/"' in page.content.decode()
    resp = client_for(alice).get(f"/p/{project.slug}/schedule-load/")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "4 ticks from 4 active deployments" in html  # the suspended one fires nothing
    table = rows(html)
    top_minute, top_ticks, who = table[0]
    assert top_minute.endswith("02:00")
    assert top_ticks == 3 + (minute == 0)
    for c in piled:
        assert f"{c.name} / Production" in who
    if minute:  # H moved the fourth task off 02:00: a row of its own
        assert [(m[-5:], n) for m, n, _ in table[1:]] == [(f"02:{minute:02d}", 1)]
        assert "spread / Production" in table[1][2]
    # Outsiders do not learn the project exists.
    assert client_for(dave).get(f"/p/{project.slug}/schedule-load/").status_code == 404
