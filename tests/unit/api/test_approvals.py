"""Approval requests through the API: a developer asks, an owner approves once; stale and
own requests are refused with a sentence; settings are for owners."""

from __future__ import annotations

import pytest

from .conftest import error_code

pytestmark = pytest.mark.django_db

P = "projects/payments/"
A = P + "approvals/"


def ask(api, **extra):
    return api.post(A + "create/", {"component": "nightly", "action": "promote", **extra})


@pytest.fixture
def approvals_on(project):
    project.production_approval = True
    project.save()
    return project


def test_settings_are_for_owners_and_shown_on_the_project(apis, project):
    r = apis["developer"].post(P + "settings/approvals/", {"production_approval": True})
    assert r.status_code == 403 and error_code(r) == "permission_denied"
    r = apis["owner"].post(P + "settings/approvals/", {"production_approval": True})
    assert r.status_code == 200
    assert r.json()["production_approval"] is True and r.json()["approval_self_allowed"] is False
    assert apis["viewer"].get(P).json()["production_approval"] is True


def test_promote_request_approved_through_the_api(
    apis, component, envs, build, succeeded_in_dev, approvals_on
):
    from deployments.models import Deployment

    r = apis["developer"].post("projects/payments/components/nightly/deployments/prod/promote/")
    assert r.status_code == 403 and "approvals/create/" in r.json()["error"]["message"]
    r = ask(apis["developer"], schedule="0 4 * * *", comment="ready")
    assert r.status_code == 201, r.content
    a = r.json()
    assert (a["status"], a["requested_by"], a["comment"], a["stale"]) == (
        "pending", "bob", "ready", ""
    )  # fmt: skip
    assert a["action"] == "promote" and a["build"] == build.pk
    listed = apis["viewer"].get(A, {"status": "pending"}).json()["results"]
    assert [x["id"] for x in listed] == [a["id"]]
    assert apis["outsider"].get(A + f"{a['id']}/").status_code == 404

    r = apis["owner"].post(A + f"{a['id']}/approve/")
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "approved" and r.json()["decided_by"] == "alice"
    d = Deployment.objects.get(component=component, environment=envs["prod"])
    assert d.build_id == build.pk and d.schedule == "0 4 * * *"
    assert r.json()["deployment"] == d.pk
    again = apis["owner"].post(A + f"{a['id']}/approve/")
    assert again.status_code == 400 and "already approved" in again.json()["error"]["message"]


def test_stale_own_and_rejected_requests(
    apis, component, envs, make_build, alice, succeeded_in_dev, approvals_on
):
    from django.utils import timezone

    from deployments.deploy.services.lifecycle import deployment_deploy
    from deployments.models import Deployment, Execution

    prod = envs["prod"]
    first = ask(apis["developer"]).json()
    newer = make_build(sha="b" * 40)
    d = deployment_deploy(
        component=component, environment=envs["dev"], build=newer, schedule="@hourly",
        actor=alice,
    )  # fmt: skip
    Execution.objects.create(
        deployment=d, scheduled_for=timezone.now(), status="succeeded", build=newer, exit_code=0
    )
    assert "Development moved on" in apis["viewer"].get(A + f"{first['id']}/").json()["stale"]
    r = apis["owner"].post(A + f"{first['id']}/approve/")
    assert r.status_code == 400 and "is stale" in r.json()["error"]["message"]
    assert not Deployment.objects.filter(environment=prod).exists()

    own = ask(apis["owner"]).json()
    r = apis["owner"].post(A + f"{own['id']}/approve/")
    assert r.status_code == 403 and "your own request" in r.json()["error"]["message"]

    r = apis["owner"].post(A + f"{own['id']}/reject/", {"reason": ""})
    assert r.status_code == 400 and error_code(r) == "invalid"
    r = apis["owner"].post(A + f"{own['id']}/reject/", {"reason": "use #" + str(first["id"])})
    assert r.json()["status"] == "rejected" and r.json()["reason"].startswith("use #")
    assert not Deployment.objects.filter(environment=prod).exists()


def test_bad_requests_get_a_sentence(apis, succeeded_in_dev, approvals_on):
    r = ask(apis["developer"], action="rollback")
    assert r.status_code == 400 and r.json()["error"]["fields"]["build"]
    r = ask(apis["developer"], environment="dev")
    assert r.status_code == 400 and "not a production environment" in r.json()["error"]["message"]
    r = ask(apis["developer"], schedule="61 * * * *")
    assert r.status_code == 400 and "minute" in r.json()["error"]["message"].lower()
    assert ask(apis["viewer"]).status_code == 403
    assert ask(apis["outsider"]).status_code == 404
