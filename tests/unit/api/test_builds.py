"""Builds through the API: queue (reusing an active build), list, detail, log paging, cancel."""

from __future__ import annotations

import pytest

from .conftest import error_code

pytestmark = pytest.mark.django_db

C = "projects/payments/components/nightly/"


@pytest.mark.parametrize(
    "role,status", [("owner", 201), ("developer", 201), ("viewer", 403), ("outsider", 404)]
)
def test_build_queue_matrix(apis, component, role, status):
    r = apis[role].post(C + "builds/create/")
    assert r.status_code == status, r.content
    from deployments.models import Build

    assert Build.objects.filter(component=component).count() == (1 if status == 201 else 0)
    if status == 201:
        body = r.json()
        assert body["status"] == "queued" and body["reused"] is False
        assert body["trigger"] == "api" and body["component"] == "nightly"
        assert len(body["commit_sha"]) >= 12


def test_build_queue_twice_reuses_the_active_build(apis, component):
    first = apis["developer"].post(C + "builds/create/")
    second = apis["developer"].post(C + "builds/create/")
    assert second.status_code == 200
    assert second.json()["reused"] is True
    assert second.json()["id"] == first.json()["id"]


@pytest.mark.parametrize("role,status", [("viewer", 200), ("outsider", 404)])
def test_build_list_detail_matrix(apis, build, role, status):
    r = apis[role].get(C + "builds/")
    assert r.status_code == status
    r2 = apis[role].get(f"builds/{build.pk}/")
    assert r2.status_code == status
    if status == 200:
        assert [b["id"] for b in r.json()["results"]] == [build.pk]
        assert r2.json()["image_ref"] == build.image_ref
    else:
        assert error_code(r2) == "not_found"


def test_build_list_filters_by_status(apis, make_build):
    ok = make_build(status="succeeded", sha="a" * 40)
    bad = make_build(status="failed", sha="b" * 40)
    r = apis["viewer"].get(C + "builds/", {"status": "failed"})
    assert [b["id"] for b in r.json()["results"]] == [bad.pk]
    r = apis["viewer"].get(C + "builds/", {"status": "succeeded"})
    assert [b["id"] for b in r.json()["results"]] == [ok.pk]
    r = apis["viewer"].get(C + "builds/", {"status": "exploded"})
    assert r.status_code == 400 and "status" in r.json()["error"]["fields"]


def test_build_logs_page_with_after(apis, make_build):
    from deployments.models import BuildLogLine

    b = make_build(status="running", sha="c" * 40)
    for i in range(1, 6):
        BuildLogLine.objects.create(build=b, seq=i, text=f"step {i}")
    r = apis["viewer"].get(f"builds/{b.pk}/logs/", {"after": 0, "limit": 3})
    body = r.json()
    assert [line["text"] for line in body["lines"]] == ["step 1", "step 2", "step 3"]
    assert body["has_more"] is True and body["finished"] is False and body["next_after"] == 3
    r = apis["viewer"].get(f"builds/{b.pk}/logs/", {"after": body["next_after"]})
    body = r.json()
    assert [line["text"] for line in body["lines"]] == ["step 4", "step 5"]
    assert body["has_more"] is False and body["finished"] is False
    r = apis["viewer"].get(f"builds/{b.pk}/logs/", {"after": 5})
    assert r.json()["lines"] == [] and r.json()["next_after"] == 5
    b.status = "succeeded"
    b.save()
    assert apis["viewer"].get(f"builds/{b.pk}/logs/", {"after": 5}).json()["finished"] is True
    r = apis["viewer"].get(f"builds/{b.pk}/logs/", {"after": "x"})
    assert r.status_code == 400 and "after" in r.json()["error"]["fields"]
    assert apis["outsider"].get(f"builds/{b.pk}/logs/").status_code == 404


@pytest.mark.parametrize(
    "role,status", [("owner", 200), ("developer", 200), ("viewer", 403), ("outsider", 404)]
)
def test_build_cancel_matrix(apis, make_build, role, status):
    b = make_build(status="queued", sha="d" * 40)
    r = apis[role].post(f"builds/{b.pk}/cancel/")
    assert r.status_code == status
    b.refresh_from_db()
    assert (b.status == "cancelled") == (status == 200)
    if status == 200:
        assert r.json()["status"] == "cancelled"


def test_cancel_finished_build_is_400(apis, build):
    r = apis["developer"].post(f"builds/{build.pk}/cancel/")
    assert r.status_code == 400
    assert "already finished" in r.json()["error"]["message"]


def test_unknown_build_is_404(apis, component):
    assert apis["owner"].get("builds/987654/").status_code == 404
