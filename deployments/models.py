"""Builds, environments, deployments, executions and their logs.

Invariants kept here (by constraints, not by code paths):
- one Deployment per (component, environment);
- one Execution per (deployment, scheduled_for, attempt): a tick runs once;
- one active (queued/running) Build per (component, commit): a second click reuses it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.timezone import now

from components.models import Component


class RuntimeKind(models.TextChoices):
    AUTO = "auto", "Automatic (Docker if available, else local)"
    DOCKER = "docker", "Docker engine"
    LOCAL = "local", "Local subprocess"
    # Runs nothing: records that the task started and exits 0 (benchmarks, tests of timing).
    RECORD = "record", "Record only (no container; benchmarks and tests)"


class Environment(models.Model):
    name = models.CharField(max_length=60, unique=True)
    slug = models.SlugField(max_length=30, unique=True)
    # Promotion path: lower order first (Development=10 -> Production=20).
    order = models.PositiveIntegerField(unique=True)
    is_production = models.BooleanField(default=False)
    runtime_kind = models.CharField(max_length=10, choices=RuntimeKind.choices, default="auto")
    docker_host = models.CharField(max_length=200, blank=True, help_text="Empty: DOCKER_HOST")
    docker_network = models.CharField(max_length=100, blank=True)
    # The Celery queue this environment's runs go to (e.g. "executions.prod"), so they run
    # only on workers started for it, next to its engine. Empty: the shared "executions".
    queue = models.CharField(max_length=100, blank=True, help_text="Empty: executions")
    memory_limit_mb = models.PositiveIntegerField(default=512)
    cpu_limit = models.FloatField(default=1.0)
    pids_limit = models.PositiveIntegerField(default=256)
    max_run_seconds = models.PositiveIntegerField(default=3600)

    class Meta:
        ordering = ["order"]

    def __str__(self) -> str:
        return self.name


class Build(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Trigger(models.TextChoices):
        USER = "user", "User"
        WEBHOOK = "webhook", "Push webhook"
        API = "api", "API"

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="builds")
    commit_sha = models.CharField(max_length=64)
    ref = models.CharField(max_length=200, blank=True)
    commit_message = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    preset = models.CharField(max_length=12, choices=Component.Preset.choices)
    runtime_kind = models.CharField(max_length=10, choices=RuntimeKind.choices, blank=True)
    image_ref = models.CharField(max_length=300, blank=True)
    image_digest = models.CharField(max_length=100, blank=True)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.USER)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    queued_at = models.DateTimeField(default=now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    celery_task_id = models.CharField(max_length=64, blank=True)
    log_bytes = models.PositiveIntegerField(default=0)
    log_truncated = models.BooleanField(default=False)
    # Set by image clean-up (deployments/builds/images.py): the image is gone from its
    # runtime, so this build can no longer be deployed, promoted, rolled back to or re-run.
    image_removed_at = models.DateTimeField(null=True, blank=True)
    # The validated chorus.toml at the built commit (components/manifest), {} without one.
    manifest = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-queued_at", "-id"]
        indexes = [models.Index(fields=["component", "-queued_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["component", "commit_sha"],
                condition=Q(status__in=["queued", "running"]),
                name="build_one_active_per_commit",
            )
        ]

    def __str__(self) -> str:
        return f"build #{self.pk} {self.component} @ {self.short_sha}"

    @property
    def short_sha(self) -> str:
        return self.commit_sha[:12]

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def image_home(self) -> str:
        """Where the image lives when that limits where it runs (no registry), for the UI."""
        if not self.image_ref or self.status != self.Status.SUCCEEDED:
            return ""
        if self.runtime_kind == RuntimeKind.LOCAL:
            return "Local image: it lives only on the machine that built it."
        if self.runtime_kind == RuntimeKind.DOCKER and "@sha256:" not in self.image_ref:
            return (
                "Not in a registry: this image lives only on the Docker engine that built it "
                "(set CHORUS_REGISTRY to run it on other hosts)."
            )
        return ""


class LogLineBase(models.Model):
    seq = models.PositiveIntegerField()
    ts = models.DateTimeField(default=now)
    stream = models.CharField(max_length=10, default="stdout")
    text = models.TextField()

    class Meta:
        abstract = True
        ordering = ["seq"]


class BuildLogLine(LogLineBase):
    build = models.ForeignKey(Build, on_delete=models.CASCADE, related_name="log_lines")

    class Meta(LogLineBase.Meta):
        constraints = [models.UniqueConstraint(fields=["build", "seq"], name="buildlog_unique_seq")]


class ConcurrencyPolicy(models.TextChoices):
    ALLOW = "allow", "Allow overlapping runs"
    FORBID = "forbid", "Forbid: skip a tick while a run is active"
    REPLACE = "replace", "Replace: cancel the running one"


class CatchupPolicy(models.TextChoices):
    NONE = "none", "None: record missed ticks as missed"
    LATEST = "latest", "Latest only: run the most recent missed tick"
    ALL = "all", "All within the window"


class DstRule(models.TextChoices):
    CRON = "cron", "As cron: once for fixed hours, every occurrence for a wildcard hour"
    EVERY = "every", "Every real occurrence (twice in a repeated hour, none in a gap)"
    ONCE = "once", "Once per wall-clock time (first of a repeat, at the jump in a gap)"


class Deployment(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        # Undeployed keeps the row (and so its executions and history); no PeriodicTask.
        UNDEPLOYED = "undeployed", "Undeployed"

    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="deployments")
    environment = models.ForeignKey(
        Environment, on_delete=models.PROTECT, related_name="deployments"
    )
    build = models.ForeignKey(Build, on_delete=models.PROTECT, related_name="deployments")
    # As the user wrote it: 5-field cron, a macro (@daily) or "@every 10m".
    schedule = models.CharField(max_length=100)
    timezone = models.CharField(max_length=64, default="UTC")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="chorus_deployment",
    )
    # Policies (sensible defaults; see the Executions docs).
    timeout_seconds = models.PositiveIntegerField(default=600)
    max_retries = models.PositiveIntegerField(default=0)
    retry_delay_seconds = models.PositiveIntegerField(default=10)
    concurrency_policy = models.CharField(
        max_length=10, choices=ConcurrencyPolicy.choices, default=ConcurrencyPolicy.FORBID
    )
    starting_deadline_seconds = models.PositiveIntegerField(default=60)
    catchup_policy = models.CharField(
        max_length=10, choices=CatchupPolicy.choices, default=CatchupPolicy.NONE
    )
    catchup_window_seconds = models.PositiveIntegerField(default=3600)
    # Overrides cron's DST rule (chosen by the hour field) for this deployment's cron schedule.
    dst_rule = models.CharField(max_length=10, choices=DstRule.choices, default=DstRule.CRON)
    keep_successes = models.PositiveIntegerField(default=1000)
    keep_failures = models.PositiveIntegerField(default=1000)
    keep_days = models.PositiveIntegerField(default=30)
    # Bumped whenever config or secrets of this (component, environment) change.
    config_revision = models.PositiveIntegerField(default=1)
    # Given to every scheduled run in CHORUS_PAYLOAD (Run now may give its own); JSON, capped
    # by deployments/payloads.py.
    payload = models.JSONField(null=True, blank=True)
    # Schedules as code: the fields ("schedule", "timezone", policy names) whose values came
    # from the component's chorus.toml, and the commit whose file set them. Read-only in the
    # browser, API and CLI while the component is managed by the repository.
    managed_fields = models.JSONField(default=list, blank=True)
    managed_commit = models.CharField(max_length=40, blank=True)
    # Last tick the scheduler handled; the base for detecting ticks missed while it was down.
    last_tick_at = models.DateTimeField(null=True, blank=True)
    deployed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["component", "environment__order"]
        constraints = [
            models.UniqueConstraint(
                fields=["component", "environment"], name="deployment_one_per_environment"
            )
        ]

    def __str__(self) -> str:
        return f"{self.component} in {self.environment}"

    @property
    def schedule_seed(self) -> str:
        """What `H` in this deployment's cron is derived from (stable across redeploys)."""
        from deployments.schedules.parsing import schedule_seed

        return schedule_seed(
            self.component.project.slug, self.component.name, self.environment.slug
        )

    def parsed_schedule(self):
        """The schedule as beat, catch-up, alerts and the preview all read it (H resolved)."""
        from deployments.schedules.parsing import parse_schedule

        return parse_schedule(self.schedule, self.schedule_seed, dst=self.dst_rule)

    @property
    def managed(self) -> list[str]:
        """The fields only chorus.toml may change now (empty unless the component is managed)."""
        if not self.managed_fields or not self.component.managed_by_repository:
            return []
        return list(self.managed_fields)

    @property
    def is_done(self) -> bool:
        """A one-off (`@at`) deployment whose tick has been handled: it fires no more."""
        if not self.schedule.startswith("@at") or self.last_tick_at is None:
            return False
        from deployments.schedules.parsing import parse_schedule

        try:
            return self.last_tick_at >= parse_schedule(self.schedule).instant(self.timezone)
        except ValidationError:
            return False

    @property
    def display_status(self) -> str:
        """The status as shown: "done" for a finished one-off deployment."""
        return "done" if self.is_done and self.status == self.Status.ACTIVE else self.status

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class DeploymentEvent(models.Model):
    """The deploy log: every deploy, promote, config change, suspend, resume, undeploy."""

    class Kind(models.TextChoices):
        DEPLOY = "deploy", "Deploy"
        PROMOTE = "promote", "Promote"
        ROLLBACK = "rollback", "Rollback"
        CONFIG = "config", "Config change"
        SECRET = "secret", "Secret change"
        SUSPEND = "suspend", "Suspend"
        RESUME = "resume", "Resume"
        UNDEPLOY = "undeploy", "Undeploy"
        RUN = "run", "Manual run"
        SCHEDULE = "schedule", "Schedule change"
        POLICY = "policy", "Policy change"
        PULL = "pull", "Image pull"
        REQUEST = "request", "Approval request"
        APPROVE = "approve", "Approval"
        REJECT = "reject", "Rejection"
        WITHDRAW = "withdraw", "Request withdrawn"

    class Outcome(models.TextChoices):
        OK = "ok", "Succeeded"
        FAILED = "failed", "Failed"

    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="events")
    environment = models.ForeignKey(
        Environment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deployment = models.ForeignKey(
        Deployment, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    build = models.ForeignKey(
        Build, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.OK)
    schedule = models.CharField(max_length=100, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    message = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["component", "-created_at"])]


class ConfigVar(models.Model):
    """An environment variable for a component in one environment; secrets are encrypted."""

    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="config_vars")
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    value = models.TextField(blank=True)  # plain values only; empty for secrets
    value_encrypted = models.TextField(blank=True)  # secrets only
    is_secret = models.BooleanField(default=False)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(
                fields=["component", "environment", "key"], name="configvar_unique_key"
            )
        ]


class Execution(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        TIMED_OUT = "timed_out", "Timed out"
        CANCELLED = "cancelled", "Cancelled"
        SKIPPED = "skipped", "Skipped"
        MISSED = "missed", "Missed"
        # Exited 0 and reported a partial result (CHORUS_RESULT_FILE, executions/results.py).
        PARTIAL = "partial", "Partial"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "Manual"
        RETRY = "retry", "Retry"
        CATCHUP = "catchup", "Catch-up"
        RERUN = "rerun", "Re-run"

    ACTIVE = (Status.PENDING, Status.RUNNING)
    FINISHED = (
        Status.SUCCEEDED,
        Status.PARTIAL,
        Status.FAILED,
        Status.TIMED_OUT,
        Status.CANCELLED,
        Status.SKIPPED,
        Status.MISSED,
    )
    FAILURES = (Status.FAILED, Status.TIMED_OUT)

    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="executions")
    # The tick this execution belongs to (not when it was dispatched). Manual runs use the
    # request time.
    scheduled_for = models.DateTimeField()
    attempt = models.PositiveIntegerField(default=1)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.SCHEDULE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # For skipped / missed / failed-by-Chorus: suspended, overlap forbidden, starting deadline
    # passed, scheduler down, DST gap, worker lost, ...
    reason = models.CharField(max_length=300, blank=True)
    queued_at = models.DateTimeField(default=now)
    # When a worker should start it: the tick for scheduled runs, the request time for manual
    # ones, tick + backoff for retries. Dispatch ahead of time uses it as the message's ETA.
    due_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written by the worker every few seconds while it runs; a stale one means the worker is
    # gone (the reconciler then finishes the execution from its container's state).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # started_at - scheduled_for, in seconds; kept as a column for cheap percentiles.
    fire_lag_seconds = models.FloatField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    exit_code = models.IntegerField(null=True, blank=True)
    build = models.ForeignKey(Build, null=True, on_delete=models.SET_NULL, related_name="+")
    image_ref = models.CharField(max_length=300, blank=True)
    image_digest = models.CharField(max_length=100, blank=True)
    config_revision = models.PositiveIntegerField(default=0)
    payload = models.JSONField(null=True, blank=True)
    # What the task reported in CHORUS_RESULT_FILE: {"status", "summary", "stats"}, or
    # {"error": "malformed: …" / "oversized: …"}; null when it wrote none.
    result = models.JSONField(null=True, blank=True)
    container_id = models.CharField(max_length=80, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True)
    cancel_requested = models.BooleanField(default=False)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The execution this one retries or re-runs.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    log_bytes = models.PositiveIntegerField(default=0)
    log_truncated = models.BooleanField(default=False)

    class Meta:
        ordering = ["-scheduled_for", "-attempt", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "scheduled_for", "attempt"], name="execution_once_per_tick"
            )
        ]
        indexes = [
            models.Index(fields=["deployment", "-scheduled_for"]),
            models.Index(fields=["status", "-scheduled_for"]),
            models.Index(fields=["-scheduled_for", "-id"]),
            models.Index(
                fields=["due_at"],
                condition=Q(status__in=["pending", "running"]),
                name="execution_active_due",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"execution #{self.pk} of {self.deployment} for {self.scheduled_for:%Y-%m-%d %H:%M:%S}"
        )

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class ExecutionLogLine(LogLineBase):
    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="log_lines")
    # Python's logging numbers (deployments/loglevels.py): stderr is an error, a JSON line
    # with a `level` has that level, anything else is info.
    level = models.PositiveSmallIntegerField(default=20)

    class Meta(LogLineBase.Meta):
        constraints = [
            models.UniqueConstraint(fields=["execution", "seq"], name="execlog_unique_seq")
        ]


class ConfigSnapshot(models.Model):
    """The configuration (variables and secrets) one config revision of a deployment ran with,
    encrypted as a whole: a re-run uses it again (deployments/executions/snapshots.py)."""

    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="config_snapshots"
    )
    revision = models.PositiveIntegerField()
    data_encrypted = models.TextField()
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "revision"], name="configsnapshot_one_per_revision"
            )
        ]
