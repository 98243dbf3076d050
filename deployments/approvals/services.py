"""Request, approve, reject, withdraw and refresh a change to a production environment.

With the project setting "Production changes need approval" on, a developer's promote,
rollback, deploy (build or schedule change) or policy change in a production environment is
stored as an ApprovalRequest instead of being refused. An owner approves it, and it is applied
then through the same deploy services (deployments/deploy/services/) with the owner as actor,
or rejects it with a reason. Owners still change production directly.

- A request is checked when made: the deploy service runs as a dry run (in a savepoint rolled
  back at once), so a request that could never be applied is refused with the service's words.
- Approval locks the request row (SELECT … FOR UPDATE) and applies only a pending one: two
  owners approving at once apply it once; the second hears who approved it.
- A request whose basis (basis.py) no longer matches the current state is stale and cannot be
  approved; a refresh takes the current state as its basis and bumps its revision.
- Each request and outcome is written to the deploy log (DeploymentEvent), refusals too.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.timezone import now

from deployments.approvals.applying import apply_change, prepare
from deployments.approvals.basis import staleness
from deployments.approvals.models import ApprovalRequest
from deployments.deploy.selectors import live_deployment
from deployments.deploy.services import events
from deployments.deploy.services.events import recorded
from deployments.environments import promotion_source
from deployments.models import DeploymentEvent
from deployments.payloads import KEEP, payload_clean
from portal.roles import Role
from portal.selectors import project_role, require_role

Action = ApprovalRequest.Action
Status = ApprovalRequest.Status
COMMENT_MAX = 2000


def approval_needed(*, user, component, environment) -> bool:
    """Does `user`'s change to `environment` become a request (rather than apply, or be refused)?"""
    if not (environment.is_production and component.project.production_approval):
        return False
    role = project_role(user=user, project=component.project)
    return role == Role.DEVELOPER


def _require_owner(*, actor, project, verb: str) -> None:
    try:
        require_role(user=actor, project=project, min_role=Role.OWNER)
    except PermissionDenied:
        raise PermissionDenied(f"Only project owners can {verb} requests.") from None


def _record(a: ApprovalRequest, *, kind: str, actor, message: str) -> None:
    events.record_event(
        kind=kind,
        component=a.component,
        environment=a.environment,
        deployment=live_deployment(component=a.component, environment=a.environment),
        build=a.build if a.build_id else None,
        actor=actor,
        message=message,
    )


def _who(user) -> str:
    return user.username if user is not None else "a former member"


# --- requesting -------------------------------------------------------------------------------
def approval_request_create(
    *,
    component,
    environment,
    action: str,
    actor,
    comment: str = "",
    source_environment=None,
    build=None,
    schedule: str | None = None,
    timezone: str | None = None,
    policies: dict | None = None,
    payload=KEEP,
) -> ApprovalRequest:
    """Ask the owners to apply a change to a production environment."""
    project = component.project
    if action == Action.PROMOTE and source_environment is None:
        source_environment = promotion_source(environment=environment)

    def work() -> ApprovalRequest:
        require_role(user=actor, project=project, min_role=Role.DEVELOPER)
        if action not in Action.values:
            raise ValidationError({"action": f'Unknown action "{action}".'})
        if not environment.is_production:
            raise ValidationError(
                f"{environment.name} is not a production environment: change it directly, "
                "no approval is needed."
            )
        if not project.production_approval:
            raise ValidationError(
                f"Production changes in {project.name} do not need approval: owners apply them "
                "directly. An owner can turn on “Production changes need approval” in the "
                "project settings."
            )
        if len(comment or "") > COMMENT_MAX:
            raise ValidationError({"comment": f"Keep the comment under {COMMENT_MAX} characters."})
        if action in (Action.ROLLBACK, Action.DEPLOY) and build is None:
            raise ValidationError({"build": "Choose the build to run."})
        if action == Action.DEPLOY and not schedule:
            raise ValidationError({"schedule": "Give the schedule to deploy with."})
        if action == Action.POLICY and not policies:
            raise ValidationError({"policies": "Give at least one policy to change."})
        if action == Action.PROMOTE and source_environment is None:
            raise ValidationError(
                f"{environment.name} is the first environment: nothing before it."
            )
        params: dict = {}
        if schedule:
            params["schedule"] = schedule
        if timezone:
            params["timezone"] = timezone
        if policies:
            params["policies"] = dict(policies)
        if payload is not KEEP:
            params["payload_set"] = True
            params["payload"] = payload_clean(payload)
        a = ApprovalRequest(
            component=component,
            environment=environment,
            source_environment=source_environment if action == Action.PROMOTE else None,
            action=action,
            build=build,
            params=params,
            comment=(comment or "").strip(),
            requested_by=actor,
        )
        prepare(a)
        a.save()
        note = f" Comment: {a.comment}" if a.comment else ""
        _record(
            a,
            kind=DeploymentEvent.Kind.REQUEST,
            actor=actor,
            message=f"Request #{a.pk} by {_who(actor)}: {a.summary}; waiting for an owner.{note}",
        )
        return a

    return recorded(
        work,
        kind=DeploymentEvent.Kind.REQUEST,
        component=component,
        environment=environment,
        build=build,
        actor=actor,
        what=f"Request to {action} in {environment.name} refused",
    )


# --- deciding ---------------------------------------------------------------------------------
def _locked_pending(approval: ApprovalRequest, *, verb: str) -> ApprovalRequest:
    # Only the request's own row is read with the lock: after waiting for it, PostgreSQL
    # re-reads that row but not rows joined to it (a decider joined here would be stale).
    a = ApprovalRequest.objects.select_for_update().get(pk=approval.pk)
    if a.status != Status.PENDING:
        by = f" by {_who(a.decided_by)}" if a.decided_by_id else ""
        at = f" at {a.decided_at:%Y-%m-%d %H:%M} UTC" if a.decided_at else ""
        done = a.get_status_display().lower()
        raise ValidationError(f"Request #{a.pk} was already {done}{by}{at}; it cannot be {verb}.")
    return a


def approval_request_approve(
    *, approval: ApprovalRequest, actor, revision: int | None = None
) -> ApprovalRequest:
    """Apply a pending request (once, whoever else approves at the same moment)."""
    component = approval.component

    def work() -> ApprovalRequest:
        _require_owner(actor=actor, project=component.project, verb="approve")
        a = _locked_pending(approval, verb="approved again")
        if a.requested_by_id == actor.pk and not component.project.approval_self_allowed:
            raise PermissionDenied(
                f"You cannot approve your own request #{a.pk}: in {component.project.name} "
                "another owner must approve it (project settings)."
            )
        if revision is not None and revision != a.revision:
            raise ValidationError(
                f"Request #{a.pk} was refreshed since you opened it: look at its new diff, "
                "then approve again."
            )
        why = staleness(a)
        if why:
            raise ValidationError(
                f"Request #{a.pk} is stale: {why}. Its diff no longer shows what would change; "
                "refresh it to see the new diff, then decide."
            )
        a.deployment = apply_change(a, actor=actor)
        a.status = Status.APPROVED
        a.decided_by = actor
        a.decided_at = now()
        a.save()
        _record(
            a,
            kind=DeploymentEvent.Kind.APPROVE,
            actor=actor,
            message=f"Request #{a.pk} by {_who(a.requested_by)} approved by {_who(actor)} and "
            f"applied: {a.summary}",
        )
        return a

    return recorded(
        work,
        kind=DeploymentEvent.Kind.APPROVE,
        component=component,
        environment=approval.environment,
        build=approval.build,
        actor=actor,
        what=f"Approval of request #{approval.pk} refused",
    )


def approval_request_reject(*, approval: ApprovalRequest, actor, reason: str) -> ApprovalRequest:
    """Refuse a pending request, saying why; nothing is deployed."""
    component = approval.component
    reason = (reason or "").strip()

    def work() -> ApprovalRequest:
        _require_owner(actor=actor, project=component.project, verb="reject")
        if not reason:
            raise ValidationError({"reason": "Say why you reject it: the requester reads this."})
        if len(reason) > COMMENT_MAX:
            raise ValidationError({"reason": f"Keep the reason under {COMMENT_MAX} characters."})
        a = _locked_pending(approval, verb="rejected")
        a.status = Status.REJECTED
        a.decided_by = actor
        a.decided_at = now()
        a.reason = reason
        a.save()
        _record(
            a,
            kind=DeploymentEvent.Kind.REJECT,
            actor=actor,
            message=f"Request #{a.pk} by {_who(a.requested_by)} rejected by {_who(actor)}: "
            f"{reason}",
        )
        return a

    return recorded(
        work,
        kind=DeploymentEvent.Kind.REJECT,
        component=component,
        environment=approval.environment,
        actor=actor,
        what=f"Rejection of request #{approval.pk} refused",
    )


def approval_request_withdraw(*, approval: ApprovalRequest, actor) -> ApprovalRequest:
    """The requester takes a pending request back."""
    component = approval.component

    def work() -> ApprovalRequest:
        require_role(user=actor, project=component.project, min_role=Role.VIEWER)
        if approval.requested_by_id != actor.pk:
            raise PermissionDenied("Only the member who made a request can withdraw it.")
        a = _locked_pending(approval, verb="withdrawn")
        a.status = Status.WITHDRAWN
        a.decided_by = actor
        a.decided_at = now()
        a.save()
        _record(
            a,
            kind=DeploymentEvent.Kind.WITHDRAW,
            actor=actor,
            message=f"Request #{a.pk} withdrawn by {_who(actor)}: {a.summary}",
        )
        return a

    return recorded(
        work,
        kind=DeploymentEvent.Kind.WITHDRAW,
        component=component,
        environment=approval.environment,
        actor=actor,
        what=f"Withdrawal of request #{approval.pk} refused",
    )


def approval_request_refresh(*, approval: ApprovalRequest, actor) -> ApprovalRequest:
    """Take the current state as the request's basis: a new diff (and a new revision)."""
    component = approval.component

    def work() -> ApprovalRequest:
        role = require_role(user=actor, project=component.project, min_role=Role.VIEWER)
        if approval.requested_by_id != actor.pk and role != Role.OWNER:
            raise PermissionDenied("Only the requester or an owner can refresh a request.")
        a = _locked_pending(approval, verb="refreshed")
        prepare(a)
        a.revision += 1
        a.save()
        _record(
            a,
            kind=DeploymentEvent.Kind.REQUEST,
            actor=actor,
            message=f"Request #{a.pk} refreshed by {_who(actor)} against the current state "
            f"(revision {a.revision}): {a.summary}",
        )
        return a

    return recorded(
        work,
        kind=DeploymentEvent.Kind.REQUEST,
        component=component,
        environment=approval.environment,
        actor=actor,
        what=f"Refresh of request #{approval.pk} refused",
    )
