"""The approval pages: a developer's promote, rollback and policy forms send requests; owners
approve and reject (with a confirmation); stale and own requests are refused in words."""

from __future__ import annotations

import pytest

from deployments.approvals.models import ApprovalRequest
from deployments.models import Deployment

pytestmark = pytest.mark.django_db

DEPLOY = "/p/payments/c/nightly-report/deploy/"
PROMOTE = "/p/payments/c/nightly-report/env/prod/promote/"


def test_the_promote_page_sends_a_request_for_a_developer(
    client_for, bob, component, prod, in_dev, approvals_on
):
    c = client_for(bob)
    page = c.get(PROMOTE).content.decode()
    assert "Request approval to promote" in page and "Comment for the owners" in page
    r = c.post(
        PROMOTE,
        {"schedule": "0 4 * * *", "timezone": "UTC", "payload": "", "comment": "all green"},
    )
    a = ApprovalRequest.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/p/payments/approvals/{a.pk}/"
    assert (a.action, a.comment, a.params["schedule"]) == ("promote", "all green", "0 4 * * *")
    assert not Deployment.objects.filter(environment=prod).exists()
    detail = c.get(r["Location"]).content.decode()
    assert "Waiting for an owner" in detail and "0 4 * * *" in detail
    assert 'id="approve"' not in detail and 'id="withdraw"' in detail


def test_a_refused_request_shows_on_the_form(client_for, bob, component, approvals_on, in_dev):
    r = client_for(bob).post(PROMOTE, {"schedule": "0 4 * * *", "timezone": "Mars/Base"})
    assert r.status_code == 200 and not ApprovalRequest.objects.exists()
    assert "Mars/Base" in r.content.decode()


def test_without_approvals_the_developer_is_still_refused(client_for, bob, component, in_dev):
    assert client_for(bob).get(PROMOTE).status_code == 403


def test_rollback_and_policy_forms_send_requests(
    client_for, alice, bob, component, dev, prod, build, make_build, ran, in_dev, approvals_on
):
    from deployments.deploy.services.lifecycle import deployment_deploy, deployment_promote

    deployment_promote(component=component, source_env=dev, target_env=prod, actor=alice)
    newer = make_build()
    ran(deployment_deploy(component=component, environment=dev, build=newer,
                          schedule="@hourly", actor=alice))  # fmt: skip
    deployment_promote(component=component, source_env=dev, target_env=prod, actor=alice)
    c = client_for(bob)
    page = c.get(DEPLOY).content.decode()
    assert "Request rollback" in page and "Request promotion from Development" in page
    r = c.post("/p/payments/c/nightly-report/env/prod/rollback/", {"build": build.pk})
    assert r.status_code == 302
    r = c.post("/p/payments/c/nightly-report/env/prod/policies/", {"max_retries": "3",
               "timeout_seconds": "60", "comment": "flaky"})  # fmt: skip
    assert r.status_code == 302
    assert sorted(ApprovalRequest.objects.values_list("action", flat=True)) == [
        "policy", "rollback"
    ]  # fmt: skip
    d = Deployment.objects.get(environment=prod)
    assert d.build == newer and d.max_retries != 3


def test_owner_approves_and_rejects_with_a_confirmation(
    client_for, alice, bob, component, prod, request_promote
):
    owner = client_for(alice)
    first = request_promote(bob)
    r = owner.post(f"/p/payments/approvals/{first.pk}/approve/", {"revision": first.revision})
    assert r.status_code == 302
    assert Deployment.objects.get(environment=prod).build == first.build

    second = request_promote(bob, schedule="0 9 * * *")
    url = f"/p/payments/approvals/{second.pk}/reject/"
    fragment = owner.get(url, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200 and b"<html" not in fragment.content
    assert b"Nothing changes in Production" in fragment.content
    r = owner.post(url, {"reason": ""})
    assert r.status_code == 400 and b"Say why you reject it" in r.content
    owner.post(url, {"reason": "9 is lunch time"})
    second.refresh_from_db()
    assert second.status == "rejected"
    assert Deployment.objects.get(environment=prod).schedule != "0 9 * * *"
    page = client_for(bob).get(DEPLOY).content.decode()
    assert "9 is lunch time" in page and "Rejected" in page


def test_stale_request_page_offers_a_refresh_not_an_approval(
    client_for, alice, bob, component, dev, make_build, ran, request_promote
):
    from deployments.deploy.services.lifecycle import deployment_deploy

    a = request_promote(bob)
    ran(deployment_deploy(component=component, environment=dev, build=make_build(),
                          schedule="@hourly", actor=alice))  # fmt: skip
    owner = client_for(alice)
    page = owner.get(f"/p/payments/approvals/{a.pk}/").content.decode()
    assert "This request is stale" in page and "Development moved on" in page
    assert 'id="approve"' not in page and 'id="refresh"' in page
    r = owner.post(f"/p/payments/approvals/{a.pk}/approve/", follow=True)
    assert "is stale" in r.content.decode()
    owner.post(f"/p/payments/approvals/{a.pk}/refresh/")
    page = owner.get(f"/p/payments/approvals/{a.pk}/").content.decode()
    assert "This request is stale" not in page and 'id="approve"' in page


def test_own_request_approval_is_a_403_with_the_reason(client_for, bob, project, request_promote):
    from portal.models import Membership

    a = request_promote(bob)
    Membership.objects.filter(project=project, user=bob).update(role="owner")
    r = client_for(bob).post(f"/p/payments/approvals/{a.pk}/approve/")
    assert r.status_code == 403 and b"cannot approve your own request" in r.content


def test_settings_page_switches_approvals(client_for, alice, bob, project):
    r = client_for(alice).post(
        "/p/payments/settings/", {"section": "approvals", "production_approval": "on"}
    )
    assert r.status_code == 302
    project.refresh_from_db()
    assert project.production_approval and not project.approval_self_allowed
    r = client_for(bob).post("/p/payments/settings/", {"section": "approvals"})
    assert r.status_code == 403
    project.refresh_from_db()
    assert project.production_approval
