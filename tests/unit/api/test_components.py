"""Components through the API: create from a sample or a real git URL, read, update, delete."""

from __future__ import annotations

import pytest

from tests.support.gitrepos import BareRepo

from .conftest import body_text, error_code

pytestmark = pytest.mark.django_db

BASE = "projects/payments/components/"


@pytest.fixture
def repo(tmp_path):
    r = BareRepo.create(tmp_path / "tasks.git")
    r.commit({"jobs/report/Dockerfile": 'FROM busybox\nCMD ["echo", "hi"]\n'}, message="first")
    return r


def test_samples_list(apis):
    r = apis["viewer"].get("samples/")
    assert r.status_code == 200
    keys = {s["key"] for s in r.json()}
    assert {"health-check", "data-cleanup"} <= keys


@pytest.mark.parametrize(
    "role,status", [("owner", 201), ("developer", 201), ("viewer", 403), ("outsider", 404)]
)
def test_component_create_from_sample_matrix(apis, project, role, status):
    r = apis[role].post(
        BASE + "create/", {"name": "health", "source_kind": "sample", "sample_key": "health-check"}
    )
    assert r.status_code == status, r.content
    from components.models import Component

    assert Component.objects.filter(name="health").exists() == (status == 201)
    if status == 201:
        body = r.json()
        assert body["name"] == "health" and body["project"] == "payments"
        assert body["source_kind"] == "sample" and body["sample_key"] == "health-check"
        assert "webhook" not in body_text(r)


def test_component_create_from_git_url_detects_preset(apis, project, repo):
    r = apis["developer"].post(
        BASE + "create/",
        {
            "name": "report",
            "source_kind": "git",
            "git_url": repo.url,
            "branch": "main",
            "path": "jobs/report",
        },
    )
    assert r.status_code == 201, r.content
    assert r.json()["preset"] == "dockerfile"
    assert r.json()["source"].startswith(repo.url)


def test_component_create_bad_source_is_400_naming_the_field(apis, project, repo, tmp_path):
    r = apis["developer"].post(
        BASE + "create/",
        {"name": "report", "source_kind": "git", "git_url": repo.url, "branch": "nope"},
    )
    assert r.status_code == 400
    assert "branch" in r.json()["error"]["fields"]
    r = apis["developer"].post(
        BASE + "create/",
        {"name": "report", "source_kind": "git", "git_url": (tmp_path / "missing.git").as_uri()},
    )
    assert r.status_code == 400, r.content
    r = apis["developer"].post(
        BASE + "create/",
        {"name": "report", "source_kind": "git", "git_url": repo.url, "path": "nowhere"},
    )
    assert r.status_code == 400
    assert "path" in r.json()["error"]["fields"]


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"name": "Bad Name!", "source_kind": "sample", "sample_key": "health-check"}, "name"),
        ({"name": "x", "source_kind": "svn"}, "source_kind"),
        ({"name": "x", "source_kind": "sample", "sample_key": "nope"}, "sample_key"),
        ({"name": "x", "source_kind": "sample", "sample_key": "health-check", "cron": "1"}, "cron"),
        ({"name": "x", "source_kind": "github", "github_connection": 999999}, None),
    ],
)
def test_component_create_invalid_input(apis, project, payload, field):
    r = apis["owner"].post(BASE + "create/", payload)
    assert r.status_code in (400, 404), r.content
    if field:
        assert r.status_code == 400
        assert field in r.json()["error"]["fields"]
    else:
        assert error_code(r) == "not_found"


def test_component_duplicate_name_is_400(apis, component):
    r = apis["owner"].post(
        BASE + "create/", {"name": "nightly", "source_kind": "sample", "sample_key": "health-check"}
    )
    assert r.status_code == 400
    assert "already exists" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "role,status", [("owner", 200), ("developer", 200), ("viewer", 200), ("outsider", 404)]
)
def test_component_list_and_detail_matrix(apis, component, role, status):
    r = apis[role].get(BASE)
    assert r.status_code == status
    if status == 200:
        assert [c["name"] for c in r.json()["results"]] == ["nightly"]
    r = apis[role].get(BASE + "nightly/")
    assert r.status_code == status
    if status == 200:
        assert r.json()["source"] == "sample “health-check”"


def test_unknown_component_is_404(apis, component):
    r = apis["owner"].get(BASE + "ghost/")
    assert r.status_code == 404 and error_code(r) == "not_found"


@pytest.mark.parametrize(
    "role,status", [("owner", 200), ("developer", 200), ("viewer", 403), ("outsider", 404)]
)
def test_component_update_matrix(apis, component, role, status):
    r = apis[role].post(BASE + "nightly/update/", {"description": "Checks our endpoints"})
    assert r.status_code == status, r.content
    component.refresh_from_db()
    assert (component.description == "Checks our endpoints") == (status == 200)


def test_component_update_rejects_fixed_and_unknown_fields(apis, component):
    r = apis["owner"].post(BASE + "nightly/update/", {"name": "renamed"})
    assert r.status_code == 400 and "name" in r.json()["error"]["fields"]
    r = apis["owner"].post(BASE + "nightly/update/", {"preset": "cobol"})
    assert r.status_code == 400 and "preset" in r.json()["error"]["fields"]


@pytest.mark.parametrize(
    "role,status", [("owner", 204), ("developer", 204), ("viewer", 403), ("outsider", 404)]
)
def test_component_delete_matrix(apis, component, role, status):
    r = apis[role].post(BASE + "nightly/delete/")
    assert r.status_code == status
    from components.models import Component

    assert Component.objects.filter(pk=component.pk).exists() == (status != 204)
