"""The deploy log on the Deploy view: newest events first, older ones a page away."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from deployments.deploy.selectors import EVENTS_ON_PAGE
from deployments.models import DeploymentEvent

pytestmark = pytest.mark.django_db


def deploy_url(component) -> str:
    return f"/p/{component.project.slug}/c/{component.name}/deploy/"


@pytest.fixture
def many_events(component, dev, bob):
    """EVENTS_ON_PAGE + 5 events; event 1 is the oldest, each a minute after the one before."""
    start = timezone.now() - timedelta(days=1)
    total = EVENTS_ON_PAGE + 5
    DeploymentEvent.objects.bulk_create(
        DeploymentEvent(
            component=component,
            environment=dev,
            kind=DeploymentEvent.Kind.CONFIG,
            message=f"log entry {n:03d}",
            actor=bob,
            created_at=start + timedelta(minutes=n),
        )
        for n in range(1, total + 1)
    )
    return total


def test_first_page_shows_newest_events_and_links_to_older(
    client_for, carol, component, many_events
):
    html = client_for(carol).get(deploy_url(component)).content.decode()
    assert f"log entry {many_events:03d}" in html  # the newest
    assert f"log entry {many_events - EVENTS_ON_PAGE + 1:03d}" in html
    assert f"log entry {many_events - EVENTS_ON_PAGE:03d}" not in html
    assert "log entry 001" not in html
    assert '?events_page=2#deploy-log">Older' in html
    assert f"Events 1–{EVENTS_ON_PAGE} of {many_events}" in html


def test_older_page_shows_the_oldest_events(client_for, carol, component, many_events):
    html = client_for(carol).get(deploy_url(component), {"events_page": 2}).content.decode()
    assert "log entry 001" in html and "log entry 005" in html
    assert f"log entry {many_events:03d}" not in html
    assert '?events_page=1#deploy-log">← Newer' in html
    assert "Page 2 of 2" in html


def test_bad_page_number_falls_back_to_a_real_page(client_for, carol, component, many_events):
    c = client_for(carol)
    r = c.get(deploy_url(component), {"events_page": "nope"})
    assert r.status_code == 200 and f"log entry {many_events:03d}" in r.content.decode()
    r = c.get(deploy_url(component), {"events_page": 99})
    assert r.status_code == 200 and "log entry 001" in r.content.decode()


def test_short_log_has_no_pager(client_for, carol, component, dev, bob):
    DeploymentEvent.objects.create(
        component=component, environment=dev, kind="config", message="only one", actor=bob
    )
    html = client_for(carol).get(deploy_url(component)).content.decode()
    assert "only one" in html
    assert "Deploy log pages" not in html
