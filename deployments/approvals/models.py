"""ApprovalRequest: one requested change to a production environment and its outcome.

The model belongs to the `deployments` app (its migrations live there); `DeploymentsConfig`
imports this module so Django registers it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.timezone import now

from components.models import Component
from deployments.models import Build, Deployment, Environment


class ApprovalRequest(models.Model):
    class Action(models.TextChoices):
        PROMOTE = "promote", "Promote"
        ROLLBACK = "rollback", "Roll back"
        DEPLOY = "deploy", "Deploy / schedule change"
        POLICY = "policy", "Policy change"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved and applied"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"

    component = models.ForeignKey(
        Component, on_delete=models.CASCADE, related_name="approval_requests"
    )
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="+")
    # Promotions only: the environment whose build is promoted.
    source_environment = models.ForeignKey(
        Environment, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    action = models.CharField(max_length=10, choices=Action.choices)
    # The build the environment would run afterwards (promote: the source's at request time).
    build = models.ForeignKey(
        Build, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What to apply: schedule, timezone, policies, payload ("payload_set" says whether given).
    params = models.JSONField(default=dict, blank=True)
    # The state the request was made against (basis.py); differs from now: the request is stale.
    basis = models.JSONField(default=dict, blank=True)
    # Rows of {label, before, after, changed}, as the requester saw them.
    diff = models.JSONField(default=list, blank=True)
    comment = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Bumped by a refresh: an approval names the revision its owner saw.
    revision = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)
    deployment = models.ForeignKey(
        Deployment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["component", "status"])]

    def __str__(self) -> str:
        return f"Request #{self.pk}: {self.summary}"

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING

    @property
    def badge(self) -> str:
        """The status badge's CSS suffix (the shared badge colours)."""
        return {
            self.Status.PENDING: "pending",
            self.Status.APPROVED: "succeeded",
            self.Status.REJECTED: "failed",
        }.get(self.status, "cancelled")

    @property
    def summary(self) -> str:
        env = self.environment.name
        if self.action == self.Action.PROMOTE:
            src = self.source_environment.name if self.source_environment else "?"
            return f"promote build #{self.build_id} from {src} to {env}"
        if self.action == self.Action.ROLLBACK:
            return f"roll {env} back to build #{self.build_id}"
        if self.action == self.Action.DEPLOY:
            return f"deploy build #{self.build_id} to {env} (build or schedule change)"
        return f"change the policies of {env}"
