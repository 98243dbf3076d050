"""Config variables and secrets through the API: secret values are never in any response."""

from __future__ import annotations

import pytest

from .conftest import body_text

pytestmark = pytest.mark.django_db

C = "projects/payments/components/nightly/"
SECRET = "s3cr3t-Pa55word-that-must-never-leak"


@pytest.mark.parametrize(
    "role,dev,prod",
    [("owner", 200, 200), ("developer", 200, 403), ("viewer", 403, 403), ("outsider", 404, 404)],
)
def test_config_set_matrix(apis, component, role, dev, prod):
    r = apis[role].post(C + "config/dev/set/", {"key": "API_URL", "value": "https://x"})
    assert r.status_code == dev, r.content
    r = apis[role].post(C + "config/prod/set/", {"key": "API_URL", "value": "https://y"})
    assert r.status_code == prod, r.content
    from deployments.models import ConfigVar

    assert set(ConfigVar.objects.values_list("environment__slug", flat=True)) == {
        env for env, s in (("dev", dev), ("prod", prod)) if s == 200
    }


def test_secret_value_never_returned_by_any_endpoint(apis, dev_deployment, envs):
    owner = apis["owner"]
    r = owner.post(
        C + "config/dev/set/", {"key": "DB_PASSWORD", "value": SECRET, "is_secret": True}
    )
    assert r.status_code == 200
    assert r.json()["is_secret"] is True and r.json()["value"] == "••••"
    owner.post(C + "config/dev/set/", {"key": "REGION", "value": "eu-1"})
    listed = owner.get(C + "config/dev/").json()["results"]
    assert {v["key"]: (v["value"], v["is_secret"]) for v in listed} == {
        "DB_PASSWORD": ("••••", True),
        "REGION": ("eu-1", False),
    }
    # A secret cannot be turned into a plain value (which would show it).
    r = owner.post(C + "config/dev/set/", {"key": "DB_PASSWORD", "value": "x"})
    assert r.status_code == 400
    # Every read endpoint a member can call about this component.
    for path in (
        C + "config/dev/",
        C + "deployments/",
        C + "deployments/dev/",
        C + "events/",
        C,
        "projects/payments/",
    ):
        for role in ("owner", "developer", "viewer"):
            apis[role].get(path)
    for api in apis.values():
        for response in api.responses:
            assert SECRET not in body_text(response), response.request["PATH_INFO"]
    from deployments.models import ConfigVar

    stored = ConfigVar.objects.get(key="DB_PASSWORD")
    assert stored.value == "" and SECRET not in stored.value_encrypted


def test_config_invalid_input(apis, component):
    r = apis["owner"].post(C + "config/dev/set/", {"key": "1BAD", "value": "x"})
    assert r.status_code == 400 and "key" in r.json()["error"]["fields"]
    r = apis["owner"].post(C + "config/dev/set/", {"key": "CHORUS_X", "value": "x"})
    assert r.status_code == 400
    r = apis["owner"].post(C + "config/dev/set/", {"key": "A", "value": "x", "secret": True})
    assert r.status_code == 400 and "secret" in r.json()["error"]["fields"]
    r = apis["owner"].post(C + "config/dev/set/", {"key": "A", "value": "", "is_secret": True})
    assert r.status_code == 400
    r = apis["owner"].post(C + "config/nope/set/", {"key": "A", "value": "x"})
    assert r.status_code == 404


@pytest.mark.parametrize(
    "role,status", [("owner", 204), ("developer", 204), ("viewer", 403), ("outsider", 404)]
)
def test_config_unset_matrix(apis, component, role, status):
    apis["owner"].post(C + "config/dev/set/", {"key": "TOKEN", "value": SECRET, "is_secret": True})
    r = apis[role].post(C + "config/dev/unset/", {"key": "TOKEN"})
    assert r.status_code == status
    from deployments.models import ConfigVar

    assert ConfigVar.objects.filter(key="TOKEN").exists() == (status != 204)
    if status == 204:
        r = apis[role].post(C + "config/dev/unset/", {"key": "TOKEN"})
        assert r.status_code == 400 and "no variable" in r.json()["error"]["message"]


@pytest.mark.parametrize("role,status", [("viewer", 200), ("outsider", 404)])
def test_config_list_matrix(apis, component, role, status):
    apis["owner"].post(C + "config/dev/set/", {"key": "REGION", "value": "eu-1"})
    r = apis[role].get(C + "config/dev/")
    assert r.status_code == status
    if status == 200:
        assert [v["key"] for v in r.json()["results"]] == ["REGION"]
