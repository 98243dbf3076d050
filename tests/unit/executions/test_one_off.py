"""One-off schedules (`@at 2026-12-24T18:00`): refused with a reason when they cannot run once,
fired once by beat, then "done" everywhere, firing no more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from deployments.schedules.parsing import parse_schedule
from deployments.schedules.preview import next_runs

pytestmark = pytest.mark.django_db


@pytest.fixture
def beat():
    from deployments.executions.scheduler import ChorusScheduler
    from portal.celery import app

    return ChorusScheduler(app=app, lazy=True)


def at_in(minutes: int, zone: str = "Europe/Berlin") -> str:
    """An @at schedule `minutes` from now, written in `zone`'s wall-clock time."""
    t = (timezone.now() + timedelta(minutes=minutes)).astimezone(ZoneInfo(zone))
    return f"@at {t:%Y-%m-%dT%H:%M}"


def test_parsing_and_words():
    s = parse_schedule("@at 2026-12-24T18:00")
    assert s.is_once and s.describe() == "Once, at 18:00 on Thu 24 Dec 2026"
    assert s.canonical == "@at 2026-12-24T18:00"
    assert parse_schedule("@at 2026-12-24 18:00").at == datetime(2026, 12, 24, 18, 0)
    assert s.instant("Europe/Berlin") == datetime(2026, 12, 24, 17, tzinfo=UTC)
    for text, reason in [
        ("@at", "@at needs a date and time"),
        ("@at tomorrow", '"tomorrow" is not a date and time'),
        ("@at 2026-12-24T18:00+01:00", "carries a UTC offset; write the local time"),
        ("@at 2026-12-24T18:00:30", "set to the minute"),
    ]:
        with pytest.raises(ValidationError, match=reason):
            parse_schedule(text)


@pytest.mark.parametrize(
    ("schedule", "tz", "reason"),
    [
        ("@at 2020-01-01T00:00", "UTC", "2020-01-01 00:00 in UTC has already passed"),
        (
            "@at 2027-10-31T02:30",
            "Europe/Berlin",
            "2027-10-31 02:30 happens twice in Europe/Berlin (the clocks go back)",
        ),
        (
            "@at 2027-03-28T02:30",
            "Europe/Berlin",
            "2027-03-28 02:30 does not exist in Europe/Berlin (the clocks jump forward",
        ),
    ],
)
def test_deploy_refuses_a_time_that_cannot_run_once(deploy, schedule, tz, reason):
    from deployments.models import Deployment

    with pytest.raises(ValidationError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        deploy(schedule, timezone=tz)
    assert not Deployment.objects.exists()
    # The same time in UTC exists once.
    if tz != "UTC":
        assert deploy(schedule, timezone="UTC").schedule == schedule


def test_beat_fires_it_once_then_it_is_done(deploy, beat):
    from deployments.deploy.api.serializers import DeploymentOut
    from deployments.models import Execution

    d = deploy(at_in(90), timezone="Europe/Berlin")
    at = parse_schedule(d.schedule).instant("Europe/Berlin")
    assert d.periodic_task.clocked.clocked_time == at and d.periodic_task.one_off
    assert [r.at_utc for r in next_runs(d.schedule, d.timezone, n=5)] == [at]
    assert not d.is_done and DeploymentOut(d).data["next_run"] is not None
    beat._load_plan()
    entry = beat._entries[d.pk]
    assert entry.next_ts == at.timestamp()
    ts, _, _ = beat._pop()  # what the loop does when the time comes
    beat._fire(ts, [entry])
    assert [(e.scheduled_for, e.status) for e in Execution.objects.filter(deployment=d)] == [
        (at, "pending")
    ]
    assert beat._plan == []  # not planned again
    d.refresh_from_db()
    assert d.is_done and d.display_status == "done"
    out = DeploymentOut(d).data
    assert out["done"] is True and out["next_run"] is None and out["status"] == "active"
    assert next_runs(d.schedule, d.timezone, n=5, start=at) == []
    # A beat starting afresh does not plan it either, nor does a catch-up find a tick.
    beat._entries.clear()
    beat._load_plan()
    assert beat._entries[d.pk].next_ts == float("inf") and beat._plan == []
    # Redeploying the same, passed time (a new build, say) keeps it done; a new time is checked.
    again = deploy(d.schedule, timezone="Europe/Berlin")
    assert again.pk == d.pk and again.is_done
    assert Execution.objects.filter(deployment=d).count() == 1


def test_the_deploy_tab_shows_done(deploy, alice, client_for):
    from deployments.models import Deployment

    d = deploy(at_in(90), timezone="UTC")
    page_url = f"/p/{d.component.project.slug}/c/{d.component.name}/deploy/"
    html = client_for(alice).get(page_url).content.decode()
    assert 'class="badge badge-active" id="status-dev">Active<' in html
    Deployment.objects.filter(pk=d.pk).update(
        last_tick_at=parse_schedule(d.schedule).instant("UTC")
    )
    html = client_for(alice).get(page_url).content.decode()
    assert 'class="badge badge-done" id="status-dev">Done<' in html
    assert "done, it fires no more" in html
