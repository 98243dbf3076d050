"""Applying a request's change through the deploy services, and checking it beforehand.

`prepare` runs the change as a dry run (the deploy service in a savepoint rolled back at once),
so a request that could never be applied is refused when made, in the service's own words;
then it records the request's basis and diff (basis.py). `apply_change` runs it for real.
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.db import transaction

from deployments.approvals.basis import basis_now, diff_rows
from deployments.approvals.models import ApprovalRequest
from deployments.deploy.selectors import live_deployment
from deployments.deploy.services.lifecycle import (
    deployment_deploy,
    deployment_promote,
    deployment_rollback,
)
from deployments.deploy.services.state import deployment_update_policies
from deployments.payloads import KEEP

Action = ApprovalRequest.Action


def apply_change(a: ApprovalRequest, *, actor):
    """Run the change through the deploy service; actor None is the requester's dry run."""
    p = a.params or {}
    payload = json.dumps(p.get("payload")) if p.get("payload_set") else KEEP
    target = live_deployment(component=a.component, environment=a.environment)
    if a.action == Action.PROMOTE:
        return deployment_promote(
            component=a.component,
            source_env=a.source_environment,
            target_env=a.environment,
            actor=actor,
            schedule=p.get("schedule") or None,
            timezone=p.get("timezone") or None,
            policies=p.get("policies") or None,
            payload=payload,
        )
    if a.action == Action.DEPLOY:
        return deployment_deploy(
            component=a.component,
            environment=a.environment,
            build=a.build,
            schedule=p.get("schedule") or "",
            timezone=p.get("timezone") or "UTC",
            actor=actor,
            policies=p.get("policies") or None,
            payload=payload,
        )
    if target is None:
        raise ValidationError(f"Nothing is deployed in {a.environment.name}.")
    if a.action == Action.ROLLBACK:
        return deployment_rollback(deployment=target, build=a.build, actor=actor)
    return deployment_update_policies(deployment=target, actor=actor, policies=p.get("policies"))


class _DryRun(Exception):
    pass


def _dry_run(a: ApprovalRequest) -> None:
    """Raise the deploy service's ValidationError if the change could not be applied now."""
    try:
        with transaction.atomic():
            apply_change(a, actor=None)
            raise _DryRun
    except _DryRun:
        pass


def prepare(a: ApprovalRequest) -> None:
    """Check the change against the current state; set its build, basis and diff."""
    if a.action == Action.PROMOTE:
        source = live_deployment(component=a.component, environment=a.source_environment)
        if source is None:
            raise ValidationError(
                f"Nothing is deployed in {a.source_environment.name}, so there is nothing to "
                "promote."
            )
        a.build = source.build
    _dry_run(a)
    a.basis = basis_now(
        component=a.component,
        environment=a.environment,
        source_environment=a.source_environment,
    )
    a.diff = diff_rows(
        action=a.action,
        component=a.component,
        environment=a.environment,
        source_environment=a.source_environment,
        build=a.build,
        params=a.params,
    )
