"""The project overview's table is rendered once per project per CHORUS_OVERVIEW_CACHE_SECONDS
and shared by every member: a finished run shows after the TTL, role-dependent parts stay the
viewer's own, a new deployment shows at once, and a Redis that is down only costs the cache."""

from __future__ import annotations

import re
import socket
import time

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from deployments.models import Execution
from portal.cache import caches_setting
from tests.support.obs import make_component, make_deployment, make_execution

pytestmark = pytest.mark.django_db


def table(page: str) -> str:
    m = re.search(r'<table class="table" id="deployed-tasks".*?</table>', page, re.S)
    assert m, page
    return m.group(0)


def overview_queries(ctx) -> int:
    """Queries that build the table: the latest executions of each deployment."""
    return sum("deployments_execution" in q["sql"] for q in ctx.captured_queries)


@pytest.fixture
def running(project):
    d = make_deployment(make_component(project, "nightly"))
    return make_execution(d, "running")


@override_settings(CHORUS_OVERVIEW_CACHE_SECONDS=1)
def test_a_finished_run_shows_after_the_ttl(client_for, alice, project, running):
    c = client_for(alice)
    assert "badge-running" in table(c.get(f"/p/{project.slug}/").content.decode())
    Execution.objects.filter(pk=running.pk).update(
        status="succeeded", exit_code=0, finished_at=timezone.now(), duration_seconds=1.0
    )
    assert "badge-running" in table(c.get(f"/p/{project.slug}/").content.decode())  # cached
    time.sleep(1.2)
    assert "badge-succeeded" in table(c.get(f"/p/{project.slug}/").content.decode())


@override_settings(CHORUS_OVERVIEW_CACHE_SECONDS=0)
def test_zero_renders_every_time(client_for, alice, project, running):
    c = client_for(alice)
    c.get(f"/p/{project.slug}/")
    Execution.objects.filter(pk=running.pk).update(status="failed", finished_at=timezone.now())
    assert "badge-failed" in table(c.get(f"/p/{project.slug}/").content.decode())


def test_owner_and_viewer_share_the_table_not_the_role(client_for, alice, carol, project, running):
    owner = client_for(alice).get(f"/p/{project.slug}/").content.decode()
    with CaptureQueriesContext(connection) as ctx:
        viewer = client_for(carol).get(f"/p/{project.slug}/").content.decode()
    assert overview_queries(ctx) == 0  # the owner's render served the viewer
    assert table(owner) == table(viewer)
    assert '<span class="badge">Owner</span>' in owner
    assert '<span class="badge">Viewer</span>' in viewer
    # A new deployment changes the project's shape: shown at once, not after the TTL.
    make_deployment(make_component(project, "weekly"))
    assert "weekly" in table(client_for(carol).get(f"/p/{project.slug}/").content.decode())


def test_an_empty_project_offers_components_to_developers_only(client_for, alice, carol, project):
    assert "Create a component" in client_for(alice).get(f"/p/{project.slug}/").content.decode()
    page = client_for(carol).get(f"/p/{project.slug}/").content.decode()
    assert "Create a component" not in page and "Developers and owners" in page


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_redis_down_still_renders_the_overview(client_for, alice, project, running):
    with override_settings(CACHES=caches_setting(f"redis://127.0.0.1:{closed_port()}/0")):
        for _ in range(2):
            r = client_for(alice).get(f"/p/{project.slug}/")
            assert r.status_code == 200 and "badge-running" in table(r.content.decode())
        # The API's rate counts live in the same cache: still answered, not a 500.
        assert client_for(alice).get("/api/v1/projects/").status_code == 200


def test_clearing_the_cache_leaves_the_broker_alone():
    """The cache shares REDIS_URL's database with Celery: clear() removes only its own keys."""
    if not settings.CHORUS_CACHE_URL:
        pytest.skip("no Redis cache configured")
    r = redis.Redis.from_url(settings.CHORUS_CACHE_URL)
    r.set("celery-test-queue", "a message")
    cache.set("overview:test", "html")
    cache.clear()
    assert cache.get("overview:test") is None
    assert r.get("celery-test-queue") == b"a message"
    r.delete("celery-test-queue")
