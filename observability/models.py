"""The read side's own state: hourly rollups of executions, lifetime totals, alerting.

Rollups are history: one row per (deployment, hour of the tick) with counts per final status
and small duration / fire-lag histograms (see histograms.py). They are rebuilt from raw
executions for recent hours and outlive the raw rows (CHORUS_ROLLUP_RETENTION_DAYS vs
CHORUS_RAW_RETENTION_DAYS). A rollup never shrinks: when raw rows were pruned, the rollup
keeps what it had counted (services/rollups.py).

DeploymentTotals is the running sum of every rollup change for a deployment, so Prometheus
counters stay monotonic after old rollups are deleted and a scrape reads one row per
deployment.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.timezone import now

from components.models import Component
from deployments.models import Deployment, Environment, Execution

from . import histograms

STATUS_FIELDS = ("succeeded", "partial", "failed", "timed_out", "cancelled", "skipped", "missed")


def _empty_duration_hist() -> list[int]:
    return histograms.empty(histograms.DURATION_BOUNDS)


def _empty_lag_hist() -> list[int]:
    return histograms.empty(histograms.LAG_BOUNDS)


class RollupFields(models.Model):
    """Counts per final status plus duration and fire-lag statistics."""

    succeeded = models.PositiveIntegerField(default=0)
    partial = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    timed_out = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    missed = models.PositiveIntegerField(default=0)
    duration_count = models.PositiveIntegerField(default=0)
    duration_sum = models.FloatField(default=0)
    duration_max = models.FloatField(default=0)
    duration_hist = models.JSONField(default=_empty_duration_hist)
    lag_count = models.PositiveIntegerField(default=0)
    lag_sum = models.FloatField(default=0)
    lag_max = models.FloatField(default=0)
    lag_hist = models.JSONField(default=_empty_lag_hist)

    class Meta:
        abstract = True

    @property
    def total(self) -> int:
        return sum(getattr(self, f) for f in STATUS_FIELDS)


class HourlyRollup(RollupFields):
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="rollups")
    # Start of the UTC hour the ticks belong to (Execution.scheduled_for truncated).
    hour = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["deployment", "hour"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "hour"], name="rollup_one_per_hour")
        ]
        indexes = [models.Index(fields=["hour"], name="rollup_hour_idx")]

    def __str__(self) -> str:
        return f"rollup {self.deployment_id} @ {self.hour:%Y-%m-%d %H:00}"


class DeploymentTotals(RollupFields):
    deployment = models.OneToOneField(
        Deployment, on_delete=models.CASCADE, primary_key=True, related_name="totals"
    )
    updated_at = models.DateTimeField(auto_now=True)


class AlertChannel(models.Model):
    """Where alerts go. Project-wide, so several components' rules can share one."""

    class Kind(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook (Slack-compatible)"

    project = models.ForeignKey(
        "portal.Project", on_delete=models.CASCADE, related_name="alert_channels"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # Email: addresses separated by commas or whitespace.
    email_addresses = models.TextField(blank=True)
    # Webhook URLs (Slack's especially) carry their credential in the path: encrypted at rest,
    # only the host is ever shown back.
    webhook_url_encrypted = models.TextField(blank=True)
    webhook_host = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["project", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="alertchannel_unique_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def addresses(self) -> list[str]:
        return [a for a in self.email_addresses.replace(",", " ").split() if a]

    @property
    def target_display(self) -> str:
        if self.kind == self.Kind.EMAIL:
            return ", ".join(self.addresses)
        return f"{self.webhook_host} (URL hidden)"


class AlertRule(models.Model):
    class Kind(models.TextChoices):
        ON_FAILURE = "on_failure", "On failure"
        CONSECUTIVE_FAILURES = "consecutive_failures", "After N consecutive failed ticks"
        MISSED_TICK = "missed_tick", "On a missed tick"
        LONG_RUN = "long_run", "When a run lasts longer than N seconds"
        RECOVERY = "recovery", "On recovery only"
        ON_PARTIAL = "on_partial", "On a partial result"

    NEEDS_THRESHOLD = (Kind.CONSECUTIVE_FAILURES, Kind.LONG_RUN)

    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="alert_rules")
    # Empty: every environment the component is deployed to.
    environment = models.ForeignKey(
        Environment, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    # N for consecutive_failures, seconds for long_run; unused otherwise.
    threshold = models.PositiveIntegerField(null=True, blank=True)
    channel = models.ForeignKey(AlertChannel, on_delete=models.CASCADE, related_name="rules")
    # Send one recovery message when the incident closes (a later run succeeds).
    notify_recovery = models.BooleanField(default=True)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["component", "environment__order", "kind", "id"]

    def __str__(self) -> str:
        return f"{self.component}: {self.describe()}"

    def describe(self) -> str:
        if self.kind == self.Kind.CONSECUTIVE_FAILURES:
            return f"after {self.threshold} consecutive failed ticks"
        if self.kind == self.Kind.LONG_RUN:
            return f"when a run lasts longer than {self.threshold} s"
        return self.get_kind_display().lower()


class Incident(models.Model):
    """One problem of one deployment under one rule: opened once, closed once.

    At most one open incident per (rule, deployment) - a partial unique constraint, which is
    what makes "one alert per incident, not per retry" hold under concurrent workers.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="incidents")
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="incidents")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    summary = models.CharField(max_length=300)
    opened_at = models.DateTimeField(default=now)
    closed_at = models.DateTimeField(null=True, blank=True)
    opened_by = models.ForeignKey(
        Execution, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_by = models.ForeignKey(
        Execution, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "deployment"],
                condition=Q(status="open"),
                name="incident_one_open_per_rule_deployment",
            )
        ]

    def __str__(self) -> str:
        return f"incident #{self.pk} ({self.status}): {self.summary}"


class AlertDelivery(models.Model):
    """One attempt to send one message; the delivery log users read."""

    class Kind(models.TextChoices):
        ALERT = "alert", "Alert"
        RECOVERY = "recovery", "Recovery"
        TEST = "test", "Test"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    MAX_ATTEMPTS = 3

    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.ForeignKey(AlertChannel, on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    subject = models.CharField(max_length=200)
    message = models.TextField()
    attempts = models.PositiveIntegerField(default=0)
    # Last attempt's outcome: the HTTP status of a webhook, or why it could not be sent.
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now)
    attempted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["channel", "-created_at"]),
            models.Index(fields=["status", "created_at"], name="alertdelivery_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} via {self.channel}: {self.status}"


class ProcessHeartbeat(models.Model):
    """A beat or worker process checking in (observability/heartbeats.py): the overview says
    so when the scheduler or the executions workers are gone, instead of runs silently not
    happening."""

    class Kind(models.TextChoices):
        BEAT = "beat", "Scheduler (beat)"
        WORKER = "worker", "Worker"

    name = models.CharField(max_length=200, unique=True)  # beat@host:pid, or the worker's name
    kind = models.CharField(max_length=10, choices=Kind.choices)
    queues = models.CharField(max_length=300, blank=True)  # comma-separated, workers only
    started_at = models.DateTimeField(default=now)
    last_seen = models.DateTimeField(default=now)

    class Meta:
        indexes = [models.Index(fields=["kind", "-last_seen"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name}"
