"""The live log's poll when nothing is new: one query, a small answer that keeps htmx polling;
new lines, a changed status or role, an ended run and outsiders are answered as before."""

from __future__ import annotations

import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from deployments.models import Execution, ExecutionLogLine
from portal.models import Membership

pytestmark = pytest.mark.django_db

P = "/p/payments"
HX = {"HTTP_HX_REQUEST": "true"}


def next_poll(body: str) -> str:
    """The URL htmx polls next: the poller's hx-get."""
    m = re.search(r'id="execution-log-poller"[^>]* hx-get="([^"]+)"', body)
    assert m, body
    return html.unescape(m.group(1))


@pytest.fixture
def running(tick, deploy):
    e = tick(deploy())
    Execution.objects.filter(pk=e.pk).update(status="running", started_at=timezone.now())
    ExecutionLogLine.objects.create(execution=e, seq=1, text="starting")
    return e


def own_queries(ctx) -> list[str]:
    """Queries of the view itself, not the session and user every logged-in request loads."""
    return [
        q["sql"]
        for q in ctx.captured_queries
        if not re.match(r'SELECT [^(]* FROM "(django_session|auth_user)"', q["sql"])
    ]


def test_nothing_new_is_one_query_and_a_small_answer_that_keeps_polling(client_for, alice, running):
    c = client_for(alice)
    url = next_poll(c.get(f"{P}/executions/{running.pk}/").content.decode())
    with CaptureQueriesContext(connection) as full:
        c.get(url.replace("state=", "state=x"), **HX)  # a page drawn before: full update
    with CaptureQueriesContext(connection) as ctx:
        r = c.get(url, **HX)
    body = r.content.decode()
    assert r.status_code == 200
    assert len(own_queries(ctx)) == 1 < len(own_queries(full))
    assert len(body) < 600 and "execution-summary" not in body
    # The same poller again (htmx swaps it and keeps polling), and the running time ticks.
    assert next_poll(body) == url and 'hx-trigger="every 1s"' in body
    assert re.search(r'id="execution-duration" hx-swap-oob="true">[\d.]+ (ms|s)…<', body)


def test_new_lines_and_a_changed_status_still_arrive(client_for, alice, running):
    c = client_for(alice)
    url = next_poll(c.get(f"{P}/executions/{running.pk}/").content.decode())
    ExecutionLogLine.objects.create(execution=running, seq=2, text="row 2 of 3")
    body = c.get(url, **HX).content.decode()
    assert "row 2 of 3" in body and 'data-after="2"' in body
    url = next_poll(body)
    assert "row 2 of 3" not in c.get(url, **HX).content.decode()
    # A cancel asked for elsewhere shows without a new line.
    Execution.objects.filter(pk=running.pk).update(cancel_requested=True)
    body = c.get(url, **HX).content.decode()
    assert "Stopping…" in body and 'id="execution-summary"' in body


def test_a_role_change_redraws_the_buttons(client_for, carol, project, running):
    c = client_for(carol)
    url = next_poll(c.get(f"{P}/executions/{running.pk}/").content.decode())
    assert "Cancel…" not in c.get(url, **HX).content.decode()
    Membership.objects.filter(project=project, user=carol).update(role="developer")
    assert "Cancel…" in c.get(url, **HX).content.decode()


def test_outsiders_and_removed_members_are_refused(client_for, carol, dave, project, running):
    c = client_for(carol)
    url = next_poll(c.get(f"{P}/executions/{running.pk}/").content.decode())
    assert c.get(url, **HX).status_code == 200
    assert client_for(dave).get(url, **HX).status_code == 404
    Membership.objects.filter(project=project, user=carol).delete()
    r = c.get(url, **HX)
    assert r.status_code == 404 and "starting" not in r.content.decode()


def test_an_ended_run_stops_polling(client_for, alice, running):
    c = client_for(alice)
    url = next_poll(c.get(f"{P}/executions/{running.pk}/").content.decode())
    Execution.objects.filter(pk=running.pk).update(
        status="succeeded", exit_code=0, finished_at=timezone.now(), duration_seconds=1.5
    )
    r = c.get(url, **HX)
    assert r.status_code == 286 and 'data-finished="true"' in r.content.decode()
    assert 'data-status="succeeded"' in r.content.decode()
