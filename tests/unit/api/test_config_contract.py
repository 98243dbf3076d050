"""The config contract through the API: the contract endpoint, values given with deploy and
promote, a clear 400 naming the missing keys, typed values checked, secrets never returned."""

from __future__ import annotations

import pytest

from components.manifest import parse_manifest

from .conftest import body_text, error_code

pytestmark = pytest.mark.django_db

C = "projects/payments/components/nightly/"
SECRET = "api-Secret-Pangolin-4410"
TOML = """\
[config.SESSIONS_URL]
description = "Where the sessions are"
required = true
default = "demo-sessions.json"

[config.API_TOKEN]
secret = true
required = true

[config.TIMEOUT_MINUTES]
type = "int"
default = 30
"""


@pytest.fixture
def declared(make_build):
    return make_build(sha="d" * 40, manifest=parse_manifest(TOML).to_json())


def ran_in_dev(deployment):
    from django.utils import timezone

    from deployments.models import Execution

    Execution.objects.create(
        deployment=deployment,
        scheduled_for=timezone.now(),
        trigger="manual",
        status="succeeded",
        build=deployment.build,
        image_ref=deployment.build.image_ref,
        exit_code=0,
        finished_at=timezone.now(),
    )


def test_contract_lists_declarations_with_their_state(apis, declared):
    viewer = apis["viewer"]
    r = viewer.get(C + "config/dev/contract/")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["build"] == declared.pk and body["environment"] == "dev"
    assert body["missing"] == ["SESSIONS_URL", "API_TOKEN"]
    settings = {s["key"]: s for s in body["settings"]}
    assert settings["SESSIONS_URL"] == {
        "key": "SESSIONS_URL",
        "description": "Where the sessions are",
        "required": True,
        "default": "demo-sessions.json",
        "secret": False,
        "type": "string",
        "status": "missing",
        "value": None,
    }
    assert settings["TIMEOUT_MINUTES"]["status"] == "default"
    assert apis["outsider"].get(C + "config/dev/contract/").status_code == 404
    r = viewer.get(C + "config/dev/contract/", {"build": 999999})
    assert r.status_code == 400 and "has no build #999999" in body_text(r)


def test_deploy_without_required_keys_is_a_clear_400_and_changes_nothing(apis, declared):
    from deployments.models import ConfigVar, Deployment

    r = apis["developer"].post(
        C + "deployments/dev/deploy/",
        {"schedule": "@hourly", "build": declared.pk, "config": {"SESSIONS_URL": "s"}},
    )
    assert r.status_code == 400
    assert error_code(r) == "invalid"
    error = r.json()["error"]
    assert error["message"].startswith("config: Set API_TOKEN in Development first")
    assert not Deployment.objects.exists() and not ConfigVar.objects.exists()

    r = apis["developer"].post(
        C + "deployments/dev/deploy/",
        {
            "schedule": "@hourly",
            "build": declared.pk,
            "config": {"SESSIONS_URL": "s", "API_TOKEN": SECRET, "TIMEOUT_MINUTES": "soon"},
        },
    )
    assert r.status_code == 400
    assert "TIMEOUT_MINUTES must be a whole number" in r.json()["error"]["message"]

    r = apis["developer"].post(
        C + "deployments/dev/deploy/",
        {
            "schedule": "@hourly",
            "build": declared.pk,
            "config": {"SESSIONS_URL": "s", "API_TOKEN": SECRET},
        },
    )
    assert r.status_code == 200, r.content
    contract = apis["viewer"].get(C + "config/dev/contract/").json()
    assert contract["missing"] == []
    token = next(s for s in contract["settings"] if s["key"] == "API_TOKEN")
    assert token["status"] == "set" and token["value"] == "••••"
    for response in apis["developer"].responses + apis["viewer"].responses:
        assert SECRET not in body_text(response)


def test_promote_is_refused_until_production_has_the_keys(apis, declared):
    from deployments.models import Deployment

    r = apis["developer"].post(
        C + "deployments/dev/deploy/",
        {
            "schedule": "@hourly",
            "build": declared.pk,
            "config": {"SESSIONS_URL": "s", "API_TOKEN": SECRET},
        },
    )
    assert r.status_code == 200
    ran_in_dev(Deployment.objects.get(environment__slug="dev"))
    owner = apis["owner"]
    assert owner.get(C + "config/prod/contract/").json()["missing"] == ["SESSIONS_URL", "API_TOKEN"]
    r = owner.post(C + "deployments/prod/promote/", {})
    assert r.status_code == 400
    assert "Set SESSIONS_URL, API_TOKEN in Production first" in r.json()["error"]["message"]
    assert not Deployment.objects.filter(environment__slug="prod").exists()
    r = owner.post(
        C + "deployments/prod/promote/",
        {"config": {"SESSIONS_URL": "https://prod/s", "API_TOKEN": "prod-token"}},
    )
    assert r.status_code == 200, r.content
    assert r.json()["build"] == declared.pk
    assert owner.get(C + "config/prod/contract/").json()["missing"] == []
