"""/metrics: parsed with prometheus_client's own parser, counters equal the executions."""

from __future__ import annotations

import datetime as dt

import pytest
import redis
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from deployments.models import Build, Deployment
from observability.tasks import execution_finished_task
from tests.support.obs import make_component, make_deployment, make_execution

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

TOKEN = "s3cret-metrics-token"


@pytest.fixture
def token(settings):
    settings.CHORUS_METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(token: str | None = TOKEN):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client().get("/metrics", **headers)


def samples(resp) -> dict[tuple, float]:
    out = {}
    for family in text_string_to_metric_families(resp.content.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_without_or_with_a_wrong_token_answers_401(token):
    resp = scrape(None)
    assert resp.status_code == 401
    assert resp["WWW-Authenticate"].startswith("Bearer")
    assert scrape("not-the-token").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401


def test_disabled_when_no_token_is_configured(settings):
    settings.CHORUS_METRICS_TOKEN = ""
    resp = scrape("anything")
    assert resp.status_code == 404
    assert b"set CHORUS_METRICS_TOKEN" in resp.content


def test_counters_match_the_executions(token, project):
    api = make_component(project, "api-sync")
    report = make_component(project, "report")
    dev = make_deployment(api, env="dev")
    prod = make_deployment(api, env="prod")
    rep = make_deployment(report, env="prod")
    Deployment.objects.filter(pk=prod.pk).update(
        last_tick_at=timezone.now() - dt.timedelta(seconds=30)
    )
    base = timezone.now() - dt.timedelta(hours=3)
    plan = {
        dev: ["succeeded"] * 3 + ["failed"],
        prod: ["succeeded"] * 5 + ["failed"] * 2 + ["timed_out", "missed", "skipped"],
        rep: ["cancelled", "succeeded"],
    }
    n = 0
    for d, statuses in plan.items():
        for status in statuses:
            n += 1
            e = make_execution(
                d, status, scheduled_for=base + dt.timedelta(minutes=n), duration=float(n), lag=0.3
            )
            execution_finished_task(e.pk)
    make_execution(dev, "running")  # active, not yet counted
    Build.objects.create(component=api, commit_sha="f" * 40, status="failed", preset="python")

    r = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    r.delete("chorus", "builds", "executions")
    r.rpush("executions", "m1", "m2", "m3")
    try:
        resp = scrape()
    finally:
        r.delete("executions")
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("text/plain; version=")
    s = samples(resp)

    def total(component, env, status):
        labels = (
            ("component", component),
            ("environment", env),
            ("project", project.slug),
            ("status", status),
        )
        return s[("chorus_executions_total", labels)]

    assert total("api-sync", "dev", "succeeded") == 3
    assert total("api-sync", "dev", "failed") == 1
    assert total("api-sync", "prod", "succeeded") == 5
    assert total("api-sync", "prod", "failed") == 2
    assert total("api-sync", "prod", "timed_out") == 1
    assert total("api-sync", "prod", "missed") == 1
    assert total("report", "prod", "cancelled") == 1
    assert sum(v for (name, _), v in s.items() if name == "chorus_executions_total") == 16

    prod_labels = (("component", "api-sync"), ("environment", "prod"), ("project", project.slug))
    # Histograms: every run that ran is counted, missed / skipped never ran.
    assert s[("chorus_execution_duration_seconds_count", prod_labels)] == 8
    inf = (*prod_labels, ("le", "+Inf"))
    assert s[("chorus_execution_duration_seconds_bucket", tuple(sorted(inf)))] == 8
    assert s[("chorus_execution_fire_lag_seconds_count", prod_labels)] == 8
    assert s[("chorus_execution_fire_lag_seconds_sum", prod_labels)] == pytest.approx(8 * 0.3)

    assert s[("chorus_builds", (("status", "failed"),))] == 1
    assert s[("chorus_builds", (("status", "succeeded"),))] == 3
    assert s[("chorus_executions_active", (("status", "running"),))] == 1
    assert s[("chorus_queue_depth", (("queue", "executions"),))] == 3
    assert s[("chorus_queue_depth", (("queue", "chorus"),))] == 0
    age = s[("chorus_scheduler_last_tick_age_seconds", ())]
    assert 29 <= age < 120


def test_process_heartbeat_ages_are_exported(token):
    from observability.models import ProcessHeartbeat

    ProcessHeartbeat.objects.create(
        name="beat@host:1", kind="beat", last_seen=timezone.now() - dt.timedelta(seconds=42)
    )
    s = samples(scrape())
    age = s[("chorus_process_heartbeat_age_seconds", (("kind", "beat"), ("name", "beat@host:1")))]
    assert 42 <= age < 60
