"""Execution pages: list (filters, cursor pages, roles), detail with an escaped live log that
stops polling when finished, cancel and re-run with confirmation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from deployments.models import Execution, ExecutionLogLine

pytestmark = pytest.mark.django_db

P = "/p/payments"


@pytest.fixture
def listing(deploy, component):
    d = deploy()
    now = timezone.now().replace(microsecond=0)
    made = []
    for i in range(60):
        made.append(
            Execution.objects.create(
                deployment=d,
                scheduled_for=now - timedelta(minutes=i),
                status="failed" if i % 10 == 0 else "succeeded",
                trigger="manual" if i == 5 else "schedule",
                exit_code=1 if i % 10 == 0 else 0,
                finished_at=now,
                fire_lag_seconds=0.042,
                duration_seconds=1.5,
                image_ref=d.build.image_ref,
            )
        )
    return d, made


def ids_in(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'data-execution="(\d+)"', html)]


@pytest.mark.parametrize("role,status", [("owner", 200), ("viewer", 200), ("outsider", 404)])
def test_list_by_role(client_for, users_by_role, listing, role, status):
    r = client_for(users_by_role[role]).get(f"{P}/c/nightly/executions/")
    assert r.status_code == status


def test_list_pages_by_cursor_newest_first(client_for, alice, listing):
    _, made = listing
    c = client_for(alice)
    first = c.get(f"{P}/c/nightly/executions/").content.decode()
    assert ids_in(first) == [e.pk for e in made[:50]]
    assert "42 ms" in first and "Run now" in first
    older = re.search(r'href="\?after=([^"]+)"', first).group(1)
    second = c.get(f"{P}/c/nightly/executions/?after={older}").content.decode()
    assert ids_in(second) == [e.pk for e in made[50:]]
    newer = re.search(r'href="\?before=([^"]+)"', second)
    assert newer
    back = c.get(f"{P}/c/nightly/executions/?before={newer.group(1)}").content.decode()
    assert ids_in(back) == [e.pk for e in made[:50]]


def test_list_filters(client_for, alice, listing):
    _, made = listing
    c = client_for(alice)
    failed = c.get(f"{P}/c/nightly/executions/?status=failed").content.decode()
    assert ids_in(failed) == [e.pk for e in made if e.status == "failed"]
    manual = c.get(f"{P}/c/nightly/executions/?trigger=manual").content.decode()
    assert ids_in(manual) == [made[5].pk]
    assert ids_in(c.get(f"{P}/c/nightly/executions/?env=prod").content.decode()) == []
    day = made[0].scheduled_for.date().isoformat()
    assert made[0].pk in ids_in(c.get(f"{P}/c/nightly/executions/?date={day}").content.decode())
    bad = c.get(f"{P}/c/nightly/executions/?status=nope&date=yesterday")
    assert bad.status_code == 200
    assert "Unknown status" in bad.content.decode() and "is not a date" in bad.content.decode()
    # The filter form swaps only the table.
    part = c.get(f"{P}/c/nightly/executions/?status=failed", HTTP_HX_REQUEST="true",
                 HTTP_HX_TARGET="executions-table").content.decode()  # fmt: skip
    assert part.lstrip().startswith('<div id="executions-table"') or "executions-table" in part
    assert "<html" not in part


def test_detail_shows_the_log_escaped_and_polls_until_finished(
    client_for, alice, dave, tick, deploy
):
    e = tick(deploy())
    Execution.objects.filter(pk=e.pk).update(status="running", started_at=timezone.now())
    ExecutionLogLine.objects.create(execution=e, seq=1, text="<script>alert(1)</script>")
    c = client_for(alice)
    page = c.get(f"{P}/executions/{e.pk}/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert 'hx-trigger="every 1s"' in page and "Cancel…" in page
    assert client_for(dave).get(f"{P}/executions/{e.pk}/").status_code == 404

    r = c.get(f"{P}/executions/{e.pk}/log/?after=1")
    assert r.status_code == 200 and "every 1s" in r.content.decode()
    ExecutionLogLine.objects.create(execution=e, seq=2, text="done")
    Execution.objects.filter(pk=e.pk).update(
        status="succeeded", exit_code=0, finished_at=timezone.now()
    )
    r = c.get(f"{P}/executions/{e.pk}/log/?after=1")
    body = r.content.decode()
    assert r.status_code == 286  # htmx: swap this one, then stop polling
    assert "done" in body and "alert" not in body and 'data-finished="true"' in body
    assert 'data-status="succeeded"' in body


def test_cancel_needs_confirmation_and_a_role(client_for, bob, carol, tick, deploy):
    e = tick(deploy())
    assert client_for(carol).get(f"{P}/executions/{e.pk}/cancel/").status_code == 403
    assert client_for(carol).post(f"{P}/executions/{e.pk}/cancel/").status_code == 403
    c = client_for(bob)
    confirm = c.get(f"{P}/executions/{e.pk}/cancel/")
    assert confirm.status_code == 200 and "Cancel execution" in confirm.content.decode()
    e.refresh_from_db()
    assert e.status == "pending"
    r = c.post(f"{P}/executions/{e.pk}/cancel/")
    assert r.status_code == 302 and r["Location"] == f"{P}/executions/{e.pk}/"
    e.refresh_from_db()
    assert e.status == "cancelled"


def test_rerun_creates_a_new_execution_and_shows_it(client_for, bob, carol, deploy, run, tick):
    e = run(tick(deploy()))
    assert client_for(carol).post(f"{P}/executions/{e.pk}/rerun/").status_code == 403
    c = client_for(bob)
    assert "Re-run" in c.get(f"{P}/executions/{e.pk}/").content.decode()
    assert c.get(f"{P}/executions/{e.pk}/rerun/").status_code == 200
    r = c.post(f"{P}/executions/{e.pk}/rerun/")
    again = Execution.objects.exclude(pk=e.pk).get()
    assert r.status_code == 302 and r["Location"] == f"{P}/executions/{again.pk}/"
    assert (again.trigger, again.parent_id, again.triggered_by) == ("rerun", e.pk, bob)


def test_production_runs_are_cancelled_by_owners_only(client_for, alice, bob, deploy, tick, prod):
    from deployments.deploy.services.lifecycle import deployment_deploy

    dev_d = deploy()
    Execution.objects.create(
        deployment=dev_d, scheduled_for=timezone.now(), status="succeeded",
        build=dev_d.build, image_ref=dev_d.build.image_ref,
    )  # fmt: skip
    prod_d = deployment_deploy(
        component=dev_d.component, environment=prod, build=dev_d.build, schedule="@every 2s",
        timezone="UTC", actor=alice,
    )  # fmt: skip
    e = tick(prod_d)
    assert client_for(bob).post(f"{P}/executions/{e.pk}/cancel/").status_code == 403
    assert client_for(alice).post(f"{P}/executions/{e.pk}/cancel/").status_code == 302
