"""Executions through the API: run now with a payload, filters, detail, log paging, cancel,
re-run; the same role rules as the HTML views (production: owners only)."""

from __future__ import annotations

import pytest

from .conftest import error_code

pytestmark = pytest.mark.django_db

C = "projects/payments/components/nightly/"
DEV = C + "deployments/dev/"


@pytest.fixture
def make_execution(dev_deployment, build):
    def make(status="succeeded", trigger="schedule", minutes_ago=0, **extra):
        from datetime import timedelta

        from django.utils import timezone

        from deployments.models import Execution

        at = timezone.now() - timedelta(minutes=minutes_ago)
        return Execution.objects.create(
            deployment=dev_deployment,
            scheduled_for=at,
            status=status,
            trigger=trigger,
            build=build,
            image_ref=build.image_ref,
            finished_at=at if status not in ("pending", "running") else None,
            **extra,
        )

    return make


@pytest.mark.parametrize(
    "role,status", [("owner", 201), ("developer", 201), ("viewer", 403), ("outsider", 404)]
)
def test_run_now_matrix_with_payload(apis, dev_deployment, role, status):
    r = apis[role].post(DEV + "run/", {"payload": {"dry_run": True, "limit": 3}})
    assert r.status_code == status, r.content
    from deployments.models import Execution

    assert Execution.objects.count() == (1 if status == 201 else 0)
    if status == 201:
        e = r.json()
        assert e["status"] == "pending" and e["trigger"] == "manual"
        assert e["payload"] == {"dry_run": True, "limit": 3}
        assert e["environment"] == "dev" and e["triggered_by"] == apis[role].user.username


def test_run_now_in_prod_is_for_owners(apis, succeeded_in_dev):
    apis["owner"].post(C + "deployments/prod/promote/")
    r = apis["developer"].post(C + "deployments/prod/run/")
    assert r.status_code == 403 and "owners" in r.json()["error"]["message"]
    assert apis["owner"].post(C + "deployments/prod/run/").status_code == 201


def test_run_now_refusals(apis, dev_deployment):
    r = apis["developer"].post(DEV + "run/", {"payload": "x" * 70000})
    assert r.status_code == 400 and "too large" in r.json()["error"]["message"]
    r = apis["developer"].post(DEV + "run/", {"payload": "just text"})
    assert r.status_code == 201 and r.json()["payload"] == "just text"
    r = apis["developer"].post(DEV + "run/", {"payload": 1, "extra": 2})
    assert r.status_code == 400 and "extra" in r.json()["error"]["fields"]
    r = apis["developer"].post(DEV + "run/", raw="{broken")
    assert r.status_code == 400 and error_code(r) == "parse_error"
    r = apis["developer"].post(C + "deployments/prod/run/")
    assert r.status_code in (403, 404)
    apis["developer"].post(DEV + "undeploy/")
    r = apis["developer"].post(DEV + "run/")
    assert r.status_code == 400 and "undeployed" in r.json()["error"]["message"]


@pytest.mark.parametrize("role,status", [("viewer", 200), ("outsider", 404)])
def test_execution_list_filters_and_detail_matrix(apis, make_execution, role, status):
    ok = make_execution(status="succeeded", minutes_ago=30)
    bad = make_execution(status="failed", minutes_ago=20, exit_code=3)
    manual = make_execution(status="succeeded", trigger="manual", minutes_ago=10)
    r = apis[role].get(C + "executions/")
    assert r.status_code == status
    if status == 404:
        assert apis[role].get(f"executions/{ok.pk}/").status_code == 404
        return
    assert [e["id"] for e in r.json()["results"]] == [manual.pk, bad.pk, ok.pk]
    by = lambda **q: [e["id"] for e in apis[role].get(C + "executions/", q).json()["results"]]  # noqa: E731
    assert by(status="failed") == [bad.pk]
    assert by(trigger="manual") == [manual.pk]
    assert by(environment="dev") == [manual.pk, bad.pk, ok.pk]
    assert by(environment="prod") == []
    assert by(status=["failed", "succeeded"], limit=2) == [manual.pk, bad.pk]
    r = apis[role].get(C + "executions/", {"status": "exploded"})
    assert r.status_code == 400 and "status" in r.json()["error"]["fields"]
    r = apis[role].get(C + "executions/", {"scheduled_after": "yesterday-ish"})
    assert r.status_code == 400
    d = apis[role].get(f"executions/{bad.pk}/").json()
    assert (d["status"], d["exit_code"], d["component"]) == ("failed", 3, "nightly")


def test_execution_logs_page_with_after(apis, make_execution):
    from deployments.models import ExecutionLogLine

    e = make_execution(status="running")
    for i in range(1, 4):
        ExecutionLogLine.objects.create(execution=e, seq=i, text=f"row {i}")
    page = apis["viewer"].get(f"executions/{e.pk}/logs/", {"after": 1}).json()
    assert [x["text"] for x in page["lines"]] == ["row 2", "row 3"]
    assert page["next_after"] == 3 and page["finished"] is False
    e.status = "succeeded"
    e.save()
    page = apis["viewer"].get(f"executions/{e.pk}/logs/", {"after": 3}).json()
    assert page["lines"] == [] and page["finished"] is True and page["status"] == "succeeded"
    assert apis["outsider"].get(f"executions/{e.pk}/logs/").status_code == 404


@pytest.mark.parametrize(
    "role,status", [("owner", 200), ("developer", 200), ("viewer", 403), ("outsider", 404)]
)
def test_cancel_pending_matrix(apis, make_execution, role, status):
    e = make_execution(status="pending")
    r = apis[role].post(f"executions/{e.pk}/cancel/")
    assert r.status_code == status, r.content
    e.refresh_from_db()
    assert (e.status == "cancelled") == (status == 200)
    if status == 200:
        assert r.json()["status"] == "cancelled" and "cancelled by" in r.json()["reason"]
        r = apis[role].post(f"executions/{e.pk}/cancel/")
        assert r.status_code == 400 and "already cancelled" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "role,status", [("owner", 201), ("developer", 201), ("viewer", 403), ("outsider", 404)]
)
def test_rerun_matrix(apis, make_execution, role, status):
    e = make_execution(status="failed", payload={"day": "2026-01-01"})
    r = apis[role].post(f"executions/{e.pk}/rerun/")
    assert r.status_code == status, r.content
    if status == 201:
        new = r.json()
        assert new["id"] != e.pk and new["parent"] == e.pk and new["trigger"] == "rerun"
        assert new["payload"] == {"day": "2026-01-01"} and new["status"] == "pending"


def test_rerun_of_unfinished_is_400(apis, make_execution):
    e = make_execution(status="running")
    r = apis["developer"].post(f"executions/{e.pk}/rerun/")
    assert r.status_code == 400 and "not finished" in r.json()["error"]["message"]
