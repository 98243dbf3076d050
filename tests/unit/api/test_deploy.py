"""Environments, deployments and the deploy log through the API (deploy service underneath)."""

from __future__ import annotations

import pytest

from .conftest import error_code

pytestmark = pytest.mark.django_db

C = "projects/payments/components/nightly/"
DEV = C + "deployments/dev/"
PROD = C + "deployments/prod/"


def test_environments_list(apis):
    r = apis["outsider"].get("environments/")
    assert r.status_code == 200
    assert [(e["slug"], e["is_production"]) for e in r.json()] == [("dev", False), ("prod", True)]


@pytest.mark.parametrize(
    "role,status", [("owner", 200), ("developer", 200), ("viewer", 403), ("outsider", 404)]
)
def test_deploy_to_dev_matrix(apis, build, role, status):
    r = apis[role].post(
        DEV + "deploy/", {"schedule": "0 2 * * *", "timezone": "Europe/Berlin", "build": build.pk}
    )
    assert r.status_code == status, r.content
    from deployments.models import Deployment

    assert Deployment.objects.filter(environment__slug="dev").exists() == (status == 200)
    if status == 200:
        d = r.json()
        assert d["environment"] == "dev" and d["status"] == "active"
        assert d["schedule"] == "0 2 * * *" and d["timezone"] == "Europe/Berlin"
        assert d["build"] == build.pk and d["next_run"]
        assert "2" in d["schedule_description"]
        from django_celery_beat.models import PeriodicTask

        assert PeriodicTask.objects.get(name=f"chorus:deployment:{d['id']}").enabled


def test_deploy_defaults_to_latest_succeeded_build(apis, make_build):
    make_build(status="succeeded", sha="1" * 40)
    newest = make_build(status="succeeded", sha="2" * 40)
    from django.utils import timezone

    newest.finished_at = timezone.now()
    newest.save()
    make_build(status="failed", sha="3" * 40)
    r = apis["developer"].post(DEV + "deploy/", {"schedule": "@every 10m"})
    assert r.status_code == 200, r.content
    assert r.json()["build"] == newest.pk and r.json()["timezone"] == "UTC"


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"schedule": "61 * * * *"}, "schedule"),
        ({"schedule": "not a cron"}, "schedule"),
        ({"schedule": "0 2 * * *", "timezone": "Mars/Olympus"}, "timezone"),
        ({"schedule": "0 2 * * *", "build": 999999}, "build"),
        ({"schedule": "0 2 * * *", "policies": {"max_retries": 99}}, "max_retries"),
        ({"schedule": "0 2 * * *", "policies": {"nonsense": 1}}, "policies"),
        ({"schedule": "0 2 * * *", "cron": "x"}, "cron"),
        ({}, "schedule"),
    ],
)
def test_deploy_invalid_input_is_400_naming_the_field(apis, build, payload, field):
    r = apis["developer"].post(DEV + "deploy/", payload)
    assert r.status_code == 400, r.content
    assert error_code(r) == "invalid"
    body = r.json()["error"]
    assert field in body["fields"] or field in str(body["fields"]), body
    from deployments.models import Deployment

    assert not Deployment.objects.exists()


def test_deploy_failed_build_refused(apis, make_build):
    bad = make_build(status="failed", sha="f" * 40)
    r = apis["developer"].post(DEV + "deploy/", {"schedule": "@daily", "build": bad.pk})
    assert r.status_code == 400
    assert "has not succeeded" in r.json()["error"]["message"]


def test_no_succeeded_build_yet(apis, component):
    r = apis["developer"].post(DEV + "deploy/", {"schedule": "@daily"})
    assert r.status_code == 400 and "build it first" in r.json()["error"]["message"]


def test_unknown_environment_is_404(apis, build):
    r = apis["developer"].post(C + "deployments/staging/deploy/", {"schedule": "@daily"})
    assert r.status_code == 404 and error_code(r) == "not_found"


@pytest.mark.parametrize(
    "role,status", [("owner", 200), ("developer", 403), ("viewer", 403), ("outsider", 404)]
)
def test_promote_to_prod_matrix(apis, succeeded_in_dev, role, status):
    r = apis[role].post(PROD + "promote/", {})
    assert r.status_code == status, r.content
    if status == 200:
        d = r.json()
        assert d["environment"] == "prod"
        # Same image, schedule and timezone as dev on a first promotion.
        assert d["build"] == succeeded_in_dev.build_id
        assert (d["schedule"], d["timezone"]) == ("0 2 * * *", "Europe/Berlin")
    elif status == 403:
        assert "owners" in r.json()["error"]["message"]


def test_promote_with_own_schedule(apis, succeeded_in_dev):
    r = apis["owner"].post(
        PROD + "promote/", {"source_env": "dev", "schedule": "30 3 * * 1", "timezone": "UTC"}
    )
    assert r.status_code == 200
    assert (r.json()["schedule"], r.json()["timezone"]) == ("30 3 * * 1", "UTC")


def test_promote_needs_a_successful_run_in_dev(apis, dev_deployment):
    r = apis["owner"].post(PROD + "promote/")
    assert r.status_code == 400
    assert "has not run successfully" in r.json()["error"]["message"]


def test_promote_backwards_and_nothing_before_dev(apis, succeeded_in_dev):
    r = apis["owner"].post(DEV + "promote/", {"source_env": "prod"})
    assert r.status_code == 400
    r = apis["owner"].post(DEV + "promote/")
    assert r.status_code == 400 and "source_env" in r.json()["error"]["fields"]


@pytest.mark.parametrize("role,status", [("viewer", 200), ("outsider", 404)])
def test_deployment_list_and_detail_matrix(apis, dev_deployment, role, status):
    r = apis[role].get(C + "deployments/")
    assert r.status_code == status
    r2 = apis[role].get(DEV)
    assert r2.status_code == status
    if status == 200:
        assert [d["environment"] for d in r.json()["results"]] == ["dev"]
        assert r2.json()["policies"]["concurrency_policy"] == "forbid"
    assert apis["owner"].get(PROD).status_code == 404


@pytest.mark.parametrize(
    "role,status", [("owner", 200), ("developer", 200), ("viewer", 403), ("outsider", 404)]
)
def test_suspend_resume_undeploy_matrix(apis, dev_deployment, role, status):
    from deployments.models import Deployment

    for action, expected in (
        ("suspend", "suspended"),
        ("resume", "active"),
        ("undeploy", "undeployed"),
    ):
        r = apis[role].post(DEV + f"{action}/")
        assert r.status_code == status, (action, r.content)
        dev_deployment.refresh_from_db()
        if status == 200:
            assert r.json()["status"] == expected == dev_deployment.status
        else:
            assert dev_deployment.status == "active"
    if status == 200:
        from django_celery_beat.models import PeriodicTask

        assert not PeriodicTask.objects.filter(name=f"chorus:deployment:{dev_deployment.pk}")
        assert Deployment.objects.get(pk=dev_deployment.pk).status == "undeployed"


def test_suspend_twice_is_400(apis, dev_deployment):
    assert apis["developer"].post(DEV + "suspend/").status_code == 200
    r = apis["developer"].post(DEV + "suspend/")
    assert r.status_code == 400 and "already suspended" in r.json()["error"]["message"]


def test_status_change_on_undeployed_env_is_404(apis, build):
    assert apis["developer"].post(DEV + "suspend/").status_code == 404


@pytest.mark.parametrize(
    "role,status", [("owner", 200), ("developer", 200), ("viewer", 403), ("outsider", 404)]
)
def test_rollback_matrix(apis, dev_deployment, make_build, role, status):
    newer = make_build(status="succeeded", sha="9" * 40)
    apis["owner"].post(DEV + "deploy/", {"schedule": "0 2 * * *", "build": newer.pk})
    r = apis[role].post(DEV + "rollback/", {"build": dev_deployment.build_id})
    assert r.status_code == status, r.content
    dev_deployment.refresh_from_db()
    assert (dev_deployment.build_id != newer.pk) == (status == 200)


def test_rollback_needs_a_build(apis, dev_deployment):
    r = apis["developer"].post(DEV + "rollback/", {})
    assert r.status_code == 400 and "build" in r.json()["error"]["fields"]
    r = apis["developer"].post(DEV + "rollback/", {"build": dev_deployment.build_id})
    assert r.status_code == 400 and "already deployed" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "role,status", [("owner", 200), ("developer", 200), ("viewer", 403), ("outsider", 404)]
)
def test_policies_matrix(apis, dev_deployment, role, status):
    r = apis[role].post(DEV + "policies/", {"max_retries": 2, "concurrency_policy": "allow"})
    assert r.status_code == status
    dev_deployment.refresh_from_db()
    assert (dev_deployment.max_retries == 2) == (status == 200)
    r = apis["owner"].post(DEV + "policies/", {"concurrency_policy": "sometimes"})
    assert r.status_code == 400


@pytest.mark.parametrize("role,status", [("viewer", 200), ("outsider", 404)])
def test_deploy_log_lists_successes_and_refusals(apis, dev_deployment, make_build, role, status):
    bad = make_build(status="failed", sha="e" * 40)
    r = apis["developer"].post(DEV + "deploy/", {"schedule": "@daily", "build": bad.pk})
    assert r.status_code == 400  # refused by the service, and logged
    r = apis[role].get(C + "events/")
    assert r.status_code == status
    if status == 200:
        events = r.json()["results"]
        assert [(e["kind"], e["outcome"]) for e in events][-1] == ("deploy", "ok")
        assert any(e["outcome"] == "failed" for e in events)
        r = apis[role].get(C + "events/", {"outcome": "failed"})
        assert all(e["outcome"] == "failed" for e in r.json()["results"])


def test_schedule_preview(apis):
    r = apis["outsider"].get(
        "schedules/preview/", {"schedule": "30 2 * * *", "timezone": "Europe/Berlin", "count": 3}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["description"].startswith("At 02:30")
    assert len(body["next_runs"]) == 3
    first = body["next_runs"][0]
    assert first["at_local"].endswith(("T02:30:00+01:00", "T02:30:00+02:00"))
    assert first["at_utc"].endswith(("T01:30:00Z", "T00:30:00Z"))
    r = apis["outsider"].get("schedules/preview/", {"schedule": "61 2 * * *"})
    assert r.status_code == 400 and "schedule" in r.json()["error"]["fields"]
    r = apis["outsider"].get("schedules/preview/", {"schedule": "@daily", "timezone": "Nowhere"})
    assert r.status_code == 400 and "timezone" in r.json()["error"]["fields"]
    r = apis["outsider"].get("schedules/preview/", {"schedule": "@daily", "count": 500})
    assert r.status_code == 400 and "count" in r.json()["error"]["fields"]


def test_one_off_schedules(apis, dev_deployment):
    r = apis["outsider"].get(
        "schedules/preview/", {"schedule": "@at 2027-10-31T02:30", "timezone": "Europe/Berlin"}
    )
    assert r.status_code == 400
    assert "happens twice in Europe/Berlin" in r.json()["error"]["fields"]["schedule"][0]
    r = apis["outsider"].get("schedules/preview/", {"schedule": "@at 2027-01-01T09:00"})
    assert r.status_code == 200
    assert r.json()["description"] == "Once, at 09:00 on Fri 01 Jan 2027"
    assert [x["at_utc"] for x in r.json()["next_runs"]] == ["2027-01-01T09:00:00Z"]
    r = apis["developer"].post(
        C + "deployments/dev/deploy/", {"schedule": "@at 2026-01-01T09:00", "timezone": "UTC"}
    )
    assert r.status_code == 400
    assert "has already passed" in r.json()["error"]["message"] + str(r.json()["error"])
    r = apis["developer"].post(
        C + "deployments/dev/deploy/", {"schedule": "@at 2027-01-01T09:00", "timezone": "UTC"}
    )
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["done"] is False and body["next_run"] == "2027-01-01T09:00:00Z"
