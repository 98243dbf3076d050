"""Beat and workers check in; the overview says plainly when the scheduler or the executions
workers are gone, instead of runs silently not happening."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from observability.heartbeats import Heartbeat, platform_health
from observability.models import ProcessHeartbeat
from tests.support.obs import make_component, make_deployment

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_heartbeats():
    """Start from no process at all: integration tests' beats and workers (real processes,
    committed rows) may have checked in earlier in the same test database."""
    ProcessHeartbeat.objects.all().delete()


def checked_in(name, kind, *, seconds_ago=1, queues=""):
    return ProcessHeartbeat.objects.create(
        name=name,
        kind=kind,
        queues=queues,
        last_seen=timezone.now() - timedelta(seconds=seconds_ago),
    )


def test_a_fresh_beat_and_executions_worker_are_healthy():
    checked_in("beat@host:1", "beat")
    checked_in("exec@host", "worker", queues="executions")
    assert platform_health().ok


def test_nobody_ever_checked_in():
    problems = platform_health().problems
    assert problems == [
        "No scheduler (beat) has checked in: scheduled runs are not firing until one runs.",
        "No worker of the executions queue has checked in: runs are queued but none starts.",
    ]


def test_a_stale_beat_is_reported_with_when_it_was_last_seen(settings):
    settings.CHORUS_PROCESS_STALE_SECONDS = 30
    seen = checked_in("beat@host:1", "beat", seconds_ago=300).last_seen
    checked_in("exec@host", "worker", queues="chorus,executions")
    (problem,) = platform_health().problems
    assert problem.startswith("The scheduler (beat) last checked in 5 min ago (")
    assert f"({seen.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC)" in problem
    assert "scheduled runs are not firing" in problem and "catch-up policy" in problem


def test_only_workers_of_the_executions_queue_count(settings):
    checked_in("beat@host:1", "beat")
    checked_in("builds@host", "worker", queues="chorus,builds")
    (problem,) = platform_health().problems
    assert problem.startswith("No worker of the executions queue has checked in")
    checked_in("exec@host", "worker", queues="executions", seconds_ago=120)
    (problem,) = platform_health().problems
    assert "since 2 min ago" in problem and "recorded as missed" in problem


def test_touch_writes_at_most_once_per_interval(settings):
    settings.CHORUS_PROCESS_HEARTBEAT_SECONDS = 60
    beat = Heartbeat(name="beat@host:7", kind="beat")
    assert beat.touch() is True
    first = ProcessHeartbeat.objects.get(name="beat@host:7").last_seen
    assert beat.touch() is False
    assert ProcessHeartbeat.objects.get(name="beat@host:7").last_seen == first
    assert beat.touch(force=True) is True
    assert ProcessHeartbeat.objects.get(name="beat@host:7").last_seen > first
    beat.remove()
    assert not ProcessHeartbeat.objects.exists()


def test_the_overview_warns_only_where_something_is_deployed(project, carol, client_for):
    page = client_for(carol).get(f"/p/{project.slug}/").content.decode()
    assert 'id="platform-health"' not in page  # nothing deployed: nothing to fire
    make_deployment(make_component(project, "nightly"), env="dev")
    page = client_for(carol).get(f"/p/{project.slug}/").content.decode()
    assert 'id="platform-health"' in page
    assert "No scheduler (beat) has checked in" in page
    checked_in("beat@host:1", "beat")
    checked_in("exec@host", "worker", queues="executions")
    # The overview's own refresh (HTMX) brings the news too.
    fragment = client_for(carol).get(f"/p/{project.slug}/", HTTP_HX_REQUEST="true")
    assert 'id="deployed-tasks"' in fragment.content.decode()
    assert 'id="platform-health"' not in fragment.content.decode()
