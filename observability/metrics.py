"""Prometheus exposition: a custom collector that reads Chorus' own tables at scrape time.

Every series comes from a small, indexed read - never a scan of the executions table:
- execution counters and histograms: DeploymentTotals (one row per deployment);
- builds by status: a GROUP BY over builds (a few rows per component);
- active executions: the (status, -scheduled_for) index, pending/running only;
- queue depth: LLEN of the Celery queues when the broker is Redis;
- scheduler tick age: max(Deployment.last_tick_at), else the newest scheduled execution
  (index -scheduled_for).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db.models import Count, Max
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

from deployments.models import Build, Deployment, Execution

from . import histograms
from .models import STATUS_FIELDS, DeploymentTotals

log = logging.getLogger(__name__)

QUEUES = ("chorus", "builds", "executions")
LABELS = ["project", "component", "environment"]


class ChorusCollector(Collector):
    def collect(self):
        yield from self._executions()
        yield from self._active()
        yield from self._builds()
        yield from self._queues()
        yield from self._scheduler()
        yield from self._processes()

    def _executions(self):
        total = CounterMetricFamily(
            "chorus_executions",
            "Finished executions (every attempt) by final status.",
            labels=[*LABELS, "status"],
        )
        duration = HistogramMetricFamily(
            "chorus_execution_duration_seconds",
            "Run time of finished executions.",
            labels=LABELS,
        )
        lag = HistogramMetricFamily(
            "chorus_execution_fire_lag_seconds",
            "Delay between the scheduled tick and the start of the run.",
            labels=LABELS,
        )
        rows = DeploymentTotals.objects.select_related(
            "deployment__component__project", "deployment__environment"
        ).order_by("pk")
        for t in rows:
            d = t.deployment
            labels = [d.component.project.slug, d.component.name, d.environment.slug]
            for status in STATUS_FIELDS:
                total.add_metric([*labels, status], getattr(t, status))
            dh = histograms.normalize(t.duration_hist, histograms.DURATION_BOUNDS)
            duration.add_metric(
                labels, histograms.cumulative(dh, histograms.DURATION_BOUNDS), t.duration_sum
            )
            lh = histograms.normalize(t.lag_hist, histograms.LAG_BOUNDS)
            lag.add_metric(labels, histograms.cumulative(lh, histograms.LAG_BOUNDS), t.lag_sum)
        yield total
        yield duration
        yield lag

    def _active(self):
        g = GaugeMetricFamily(
            "chorus_executions_active",
            "Executions waiting to start or running now.",
            labels=["status"],
        )
        counts = dict(
            Execution.objects.filter(status__in=Execution.ACTIVE)
            .values_list("status")
            .annotate(n=Count("id"))
            .order_by()
        )
        for status in Execution.ACTIVE:
            g.add_metric([status], counts.get(status, 0))
        yield g

    def _builds(self):
        g = GaugeMetricFamily("chorus_builds", "Builds by status.", labels=["status"])
        counts = dict(Build.objects.values_list("status").annotate(n=Count("id")).order_by())
        for status in Build.Status.values:
            g.add_metric([status], counts.get(status, 0))
        yield g

    def _queues(self):
        url = settings.CELERY_BROKER_URL
        if not url.startswith(("redis://", "rediss://")):
            return
        g = GaugeMetricFamily(
            "chorus_queue_depth", "Messages waiting in a Celery queue.", labels=["queue"]
        )
        try:
            import redis

            client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
            with client.pipeline() as pipe:
                for q in QUEUES:
                    pipe.llen(q)
                lengths = pipe.execute()
        except Exception as exc:  # noqa: BLE001 - a broker outage must not break the scrape
            log.warning("metrics: queue depth unavailable: %s", exc)
            yield GaugeMetricFamily(
                "chorus_queue_depth_up", "1 when the broker answered the queue depth query.", 0
            )
            return
        for q, n in zip(QUEUES, lengths, strict=True):
            g.add_metric([q], n)
        yield g
        yield GaugeMetricFamily(
            "chorus_queue_depth_up", "1 when the broker answered the queue depth query.", 1
        )

    def _scheduler(self):
        last = Deployment.objects.filter(status=Deployment.Status.ACTIVE).aggregate(
            m=Max("last_tick_at")
        )["m"]
        if last is None:
            last = (
                Execution.objects.filter(trigger=Execution.Trigger.SCHEDULE)
                .order_by("-scheduled_for")
                .values_list("scheduled_for", flat=True)
                .first()
            )
        if last is None:
            return
        yield GaugeMetricFamily(
            "chorus_scheduler_last_tick_age_seconds",
            "Seconds since the scheduler last handled a tick of any active deployment.",
            value=max(0.0, time.time() - last.timestamp()),
        )
        yield GaugeMetricFamily(
            "chorus_scheduler_last_tick_timestamp_seconds",
            "Unix time of the last tick the scheduler handled.",
            value=last.timestamp(),
        )

    def _processes(self):
        from .models import ProcessHeartbeat

        g = GaugeMetricFamily(
            "chorus_process_heartbeat_age_seconds",
            "Seconds since each beat and worker process last checked in (a clean stop removes it).",
            labels=["kind", "name"],
        )
        now = time.time()
        for kind, name, seen in ProcessHeartbeat.objects.values_list("kind", "name", "last_seen"):
            g.add_metric([kind, name], max(0.0, now - seen.timestamp()))
        yield g
