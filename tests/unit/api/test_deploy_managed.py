"""Schedules as code through the API: the component switch, the marks, the refusal."""

from __future__ import annotations

import pytest

from .conftest import error_code

pytestmark = pytest.mark.django_db

C = "projects/payments/components/nightly/"
DEV = C + "deployments/dev/"


@pytest.fixture
def file_build(make_build):
    return make_build(
        sha="b" * 40,
        manifest={"environments": {"dev": {"schedule": "@every 2s", "timezone": "Asia/Tokyo"}}},
    )


@pytest.mark.parametrize(
    "role,status", [("owner", 200), ("developer", 200), ("viewer", 403), ("outsider", 404)]
)
def test_the_switch_is_for_developers_and_owners(apis, component, role, status):
    r = apis[role].post(C + "update/", {"managed_by_repository": True})
    assert r.status_code == status, r.content
    component.refresh_from_db()
    assert component.managed_by_repository == (status == 200)
    if status == 200:
        assert r.json()["managed_by_repository"] is True


def test_managed_fields_come_from_the_file_and_are_refused_here(apis, component, file_build):
    dev = apis["developer"]
    assert dev.post(C + "update/", {"managed_by_repository": True}).status_code == 200
    # No schedule given: the file's; its timezone too.
    r = dev.post(DEV + "deploy/", {"build": file_build.pk})
    assert r.status_code == 200, r.content
    d = r.json()
    assert (d["schedule"], d["timezone"]) == ("@every 2s", "Asia/Tokyo")
    assert d["managed_fields"] == ["schedule", "timezone"]
    assert d["managed_commit"] == "b" * 40

    r = dev.post(DEV + "deploy/", {"build": file_build.pk, "schedule": "@hourly"})
    assert r.status_code == 400
    assert error_code(r) == "invalid"
    message = r.json()["error"]["message"]
    assert "The schedule (@every 2s) of Development is managed by chorus.toml" in message
    assert "Edit the file and push, or turn off “Managed by the repository”" in message
    assert dev.get(DEV).json()["schedule"] == "@every 2s"

    # Off: the marks go, the fields are the user's again.
    assert dev.post(C + "update/", {"managed_by_repository": False}).status_code == 200
    assert dev.get(DEV).json()["managed_fields"] == []
    r = dev.post(DEV + "deploy/", {"build": file_build.pk, "schedule": "@hourly"})
    assert r.status_code == 200 and r.json()["schedule"] == "@hourly"
