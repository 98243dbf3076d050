"""deployments.approvals.services: request, approve (once, fresh, not one's own), reject,
withdraw, refresh; who may do what."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from deployments.approvals.models import ApprovalRequest
from deployments.approvals.services import (
    approval_needed,
    approval_request_approve,
    approval_request_create,
    approval_request_refresh,
    approval_request_reject,
    approval_request_withdraw,
)
from deployments.deploy.services.lifecycle import deployment_deploy, deployment_promote
from deployments.models import Deployment, DeploymentEvent

pytestmark = pytest.mark.django_db


def prod_deployment(component, prod):
    return Deployment.objects.filter(component=component, environment=prod).first()


def log(component, kind):
    return list(DeploymentEvent.objects.filter(component=component, kind=kind).order_by("id"))


def test_a_developer_request_changes_nothing_until_an_owner_approves(
    component, prod, build, alice, bob, request_promote
):
    a = request_promote(bob, comment="Ready: ran 3 times in dev", schedule="0 4 * * *")
    assert a.status == "pending" and a.requested_by == bob and a.build == build
    assert prod_deployment(component, prod) is None
    rows = {r["label"]: r for r in a.diff}
    assert rows["Image"]["changed"] and f"#{build.pk}" in rows["Image"]["after"]
    assert rows["Schedule"]["after"].startswith("0 4 * * *")
    [requested] = log(component, "request")
    assert "Request #" in requested.message and "Ready: ran 3 times" in requested.message
    assert requested.actor == bob and requested.environment == prod

    a = approval_request_approve(approval=a, actor=alice)
    d = prod_deployment(component, prod)
    assert d.build.image_digest == build.image_digest and d.schedule == "0 4 * * *"
    assert a.status == "approved" and a.decided_by == alice and a.deployment == d
    assert log(component, "promote")[-1].outcome == "ok"
    [approved] = log(component, "approve")
    assert "approved by alice" in approved.message and "bob" in approved.message


def test_a_request_that_could_never_apply_is_refused_when_made(
    component, dev, prod, make_build, alice, bob, request_promote
):
    deployment_deploy(
        component=component, environment=dev, build=make_build(), schedule="@hourly",
        actor=alice,
    )  # fmt: skip
    with pytest.raises(ValidationError, match="has not run successfully in Development"):
        request_promote(bob)
    assert not ApprovalRequest.objects.exists()
    [failed] = log(component, "request")
    assert failed.outcome == "failed" and "refused" in failed.message


def test_requests_need_the_setting_and_a_production_environment(
    component, dev, prod, build, bob, project, in_dev
):
    assert not approval_needed(user=bob, component=component, environment=prod)
    with pytest.raises(ValidationError, match="do not need approval"):
        approval_request_create(component=component, environment=prod, action="promote", actor=bob)
    project.production_approval = True
    project.save()
    assert approval_needed(user=bob, component=component, environment=prod)
    assert not approval_needed(user=bob, component=component, environment=dev)
    with pytest.raises(ValidationError, match="not a production environment"):
        approval_request_create(
            component=component, environment=dev, action="deploy", actor=bob, build=build,
            schedule="@daily",
        )  # fmt: skip


def test_the_developer_still_cannot_change_production_directly(
    component, dev, prod, bob, request_promote
):
    with pytest.raises(PermissionDenied, match="Only project owners"):
        deployment_promote(component=component, source_env=dev, target_env=prod, actor=bob)


def test_stale_when_development_moved_on_then_refresh_shows_the_new_build(
    component, dev, prod, make_build, alice, bob, ran, request_promote
):
    a = request_promote(bob)
    newer = make_build()
    ran(deployment_deploy(
        component=component, environment=dev, build=newer, schedule="*/5 * * * *", actor=alice,
    ))  # fmt: skip
    with pytest.raises(ValidationError, match=r"stale: Development moved on to build #\d+"):
        approval_request_approve(approval=a, actor=alice)
    assert prod_deployment(component, prod) is None
    a.refresh_from_db()
    assert a.status == "pending"
    assert log(component, "approve")[-1].outcome == "failed"

    a = approval_request_refresh(approval=a, actor=bob)
    assert a.revision == 2 and a.build == newer
    assert f"#{newer.pk}" in {r["label"]: r for r in a.diff}["Image"]["after"]
    # An owner who opened revision 1 approves what they saw: refused, they must look again.
    with pytest.raises(ValidationError, match="refreshed since you opened it"):
        approval_request_approve(approval=a, actor=alice, revision=1)
    approval_request_approve(approval=a, actor=alice, revision=2)
    assert prod_deployment(component, prod).build == newer


def test_stale_when_production_changed_since_the_request(
    component, dev, prod, build, alice, bob, request_promote
):
    deployment_promote(component=component, source_env=dev, target_env=prod, actor=alice)
    a = request_promote(bob, schedule="0 6 * * *")
    deployment_promote(
        component=component, source_env=dev, target_env=prod, actor=alice, schedule="0 1 * * *"
    )
    with pytest.raises(ValidationError, match="Production changed since the request"):
        approval_request_approve(approval=a, actor=alice)
    assert prod_deployment(component, prod).schedule == "0 1 * * *"


def test_own_request_cannot_be_approved_unless_the_project_allows_it(
    component, prod, project, alice, bob, request_promote
):
    from portal.models import Membership

    a = request_promote(bob)
    Membership.objects.filter(project=project, user=bob).update(role="owner")
    with pytest.raises(PermissionDenied, match="cannot approve your own request"):
        approval_request_approve(approval=a, actor=bob)
    assert prod_deployment(component, prod) is None
    project.approval_self_allowed = True
    project.save()
    approval_request_approve(approval=a, actor=bob)
    assert prod_deployment(component, prod) is not None


def test_roles(component, prod, alice, bob, carol, dave, request_promote):
    with pytest.raises(PermissionDenied):
        request_promote(carol)
    with pytest.raises(Http404):
        request_promote(dave)
    a = request_promote(bob)
    with pytest.raises(PermissionDenied, match="Only project owners can approve"):
        approval_request_approve(approval=a, actor=bob)
    with pytest.raises(PermissionDenied, match="Only project owners can approve"):
        approval_request_approve(approval=a, actor=carol)
    with pytest.raises(Http404):
        approval_request_approve(approval=a, actor=dave)
    with pytest.raises(PermissionDenied, match="Only project owners can reject"):
        approval_request_reject(approval=a, actor=bob, reason="no")
    with pytest.raises(PermissionDenied, match="Only the member who made"):
        approval_request_withdraw(approval=a, actor=alice)
    a.refresh_from_db()
    assert a.status == "pending" and prod_deployment(component, prod) is None


def test_reject_needs_a_reason_changes_nothing_and_is_final(
    component, prod, alice, bob, request_promote
):
    a = request_promote(bob)
    with pytest.raises(ValidationError, match="Say why"):
        approval_request_reject(approval=a, actor=alice, reason="  ")
    a = approval_request_reject(approval=a, actor=alice, reason="Wait for the freeze to end")
    assert (a.status, a.reason, a.decided_by) == ("rejected", "Wait for the freeze to end", alice)
    assert prod_deployment(component, prod) is None
    assert "Wait for the freeze to end" in log(component, "reject")[-1].message
    with pytest.raises(ValidationError, match="already rejected by alice"):
        approval_request_approve(approval=a, actor=alice)
    assert prod_deployment(component, prod) is None


def test_withdrawn_by_the_requester(component, prod, alice, bob, request_promote):
    a = approval_request_withdraw(approval=request_promote(bob), actor=bob)
    assert a.status == "withdrawn"
    with pytest.raises(ValidationError, match="already withdrawn"):
        approval_request_approve(approval=a, actor=alice)


def test_rollback_deploy_and_policy_requests_apply_through_the_services(
    component, dev, prod, make_build, build, alice, bob, ran, request_promote
):
    deployment_promote(component=component, source_env=dev, target_env=prod, actor=alice)
    newer = make_build()
    ran(deployment_deploy(
        component=component, environment=dev, build=newer, schedule="*/5 * * * *", actor=alice,
    ))  # fmt: skip
    deployment_promote(component=component, source_env=dev, target_env=prod, actor=alice)

    def ask(action, **kw):
        return approval_request_create(
            component=component, environment=prod, action=action, actor=bob, **kw
        )

    approval_request_approve(approval=ask("rollback", build=build), actor=alice)
    assert prod_deployment(component, prod).build == build
    a = ask("deploy", build=build, schedule="30 3 * * *", timezone="Europe/Berlin")
    assert {r["label"]: r["changed"] for r in a.diff}["Schedule"]
    approval_request_approve(approval=a, actor=alice)
    d = prod_deployment(component, prod)
    assert (d.schedule, d.timezone) == ("30 3 * * *", "Europe/Berlin")
    assert log(component, "schedule")[-1].outcome == "ok"
    approval_request_approve(approval=ask("policy", policies={"max_retries": 3}), actor=alice)
    assert prod_deployment(component, prod).max_retries == 3
    with pytest.raises(ValidationError, match="Max retries must be between"):
        ask("policy", policies={"max_retries": 99})
