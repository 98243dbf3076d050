"""The config contract in the deploy services: a build's declared settings against what an
environment has set — refusals name the missing keys, types are checked on set, declared
secrets are stored as secrets, defaults reach runs, and undeclared keys stay allowed."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from components.manifest import parse_manifest
from deployments.deploy.config_selectors import config_diff, contract_rows
from deployments.deploy.services.config import config_set, deployment_runtime_env
from deployments.deploy.services.contract import MissingConfig
from deployments.deploy.services.lifecycle import deployment_deploy, deployment_promote
from deployments.models import ConfigVar, Deployment, DeploymentEvent

pytestmark = pytest.mark.django_db

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

[config.ENDPOINT]
type = "url"
"""
SECRET = "tok-Quokka-9921"


@pytest.fixture
def declared(make_build):
    return make_build(manifest=parse_manifest(TOML).to_json())


def deploy(component, env, build, actor, **kwargs):
    return deployment_deploy(
        component=component, environment=env, build=build, schedule="@hourly", actor=actor, **kwargs
    )


def test_deploy_is_refused_naming_every_missing_required_key(component, dev, declared, bob):
    with pytest.raises(MissingConfig) as refused:
        deploy(component, dev, declared, bob)
    assert refused.value.missing == ["SESSIONS_URL", "API_TOKEN"]
    assert "Set SESSIONS_URL, API_TOKEN in Development first" in refused.value.messages[0]
    assert not Deployment.objects.exists()
    failed = DeploymentEvent.objects.get(outcome="failed")
    assert "SESSIONS_URL, API_TOKEN" in failed.message


def test_values_given_with_the_deploy_satisfy_it_and_declared_secrets_stay_secret(
    component, dev, declared, bob
):
    d = deploy(
        component,
        dev,
        declared,
        bob,
        config={"SESSIONS_URL": "https://app/sessions", "API_TOKEN": SECRET, "EXTRA": "free"},
    )
    assert d.status == "active"
    token = ConfigVar.objects.get(key="API_TOKEN")
    assert token.is_secret and token.value == "" and SECRET not in token.value_encrypted
    # Undeclared keys stay allowed, as plain values.
    assert ConfigVar.objects.get(key="EXTRA").value == "free"
    assert not any(SECRET in m for m in DeploymentEvent.objects.values_list("message", flat=True))


def test_a_refused_deploy_keeps_no_value_it_was_given(component, dev, declared, bob):
    with pytest.raises(MissingConfig):
        deploy(component, dev, declared, bob, config={"SESSIONS_URL": "x"})
    assert not ConfigVar.objects.exists()


def test_typed_values_are_checked_on_set_with_the_key_named(component, dev, declared, bob):
    deploy(component, dev, declared, bob, config={"SESSIONS_URL": "x", "API_TOKEN": SECRET})
    with pytest.raises(ValidationError) as bad:
        config_set(
            component=component,
            environment=dev,
            key="TIMEOUT_MINUTES",
            value="soon",
            is_secret=False,
            actor=bob,
        )
    assert bad.value.message_dict["value"] == [
        "TIMEOUT_MINUTES must be a whole number (e.g. 30), got “soon”."
    ]
    with pytest.raises(ValidationError, match="must be an absolute URL"):
        config_set(
            component=component,
            environment=dev,
            key="ENDPOINT",
            value="example.com",
            is_secret=False,
            actor=bob,
        )
    with pytest.raises(ValidationError, match="must be a whole number"):
        deploy(component, dev, declared, bob, config={"TIMEOUT_MINUTES": "4.5"})
    assert not ConfigVar.objects.filter(key__in=["TIMEOUT_MINUTES", "ENDPOINT"]).exists()
    # A declared secret set as plain is stored as a secret all the same.
    var = config_set(
        component=component,
        environment=dev,
        key="API_TOKEN",
        value="t2",
        is_secret=False,
        actor=bob,
    )
    assert var.is_secret


def test_defaults_reach_the_run_unless_set(component, dev, declared, bob):
    d = deploy(component, dev, declared, bob, config={"SESSIONS_URL": "s", "API_TOKEN": SECRET})
    env, secrets = deployment_runtime_env(deployment=d)
    assert env == {"SESSIONS_URL": "s", "API_TOKEN": SECRET, "TIMEOUT_MINUTES": "30"}
    assert secrets == [SECRET]
    config_set(
        component=component,
        environment=dev,
        key="TIMEOUT_MINUTES",
        value="5",
        is_secret=False,
        actor=bob,
    )
    env, _ = deployment_runtime_env(deployment=d)
    assert env["TIMEOUT_MINUTES"] == "5"


def test_promotion_is_refused_until_the_target_has_the_required_keys(
    component, dev, prod, declared, bob, alice, ran
):
    dev_d = deploy(
        component, dev, declared, bob, config={"SESSIONS_URL": "dev-url", "API_TOKEN": SECRET}
    )
    config_set(
        component=component, environment=dev, key="REGION", value="eu", is_secret=False, actor=bob
    )
    ran(dev_d)
    with pytest.raises(MissingConfig) as refused:
        deployment_promote(component=component, source_env=dev, target_env=prod, actor=alice)
    assert refused.value.missing == ["SESSIONS_URL", "API_TOKEN"]
    assert "in Production first" in refused.value.messages[0]
    assert not Deployment.objects.filter(environment=prod).exists()

    # The promotion page's configuration rows say what Production lacks; never a secret.
    rows = {
        r.key: r
        for r in config_diff(component=component, source_env=dev, target_env=prod, build=declared)
    }
    assert rows["SESSIONS_URL"].kind == "missing-required"
    assert rows["API_TOKEN"].source == "set" and rows["API_TOKEN"].target == "not set"
    assert rows["REGION"].kind == "missing" and rows["REGION"].source == "eu"
    assert rows["TIMEOUT_MINUTES"].target == "not set (default 30)"
    assert not any(SECRET in (r.source + r.target) for r in rows.values())

    config_set(
        component=component,
        environment=prod,
        key="REGION",
        value="us",
        is_secret=False,
        actor=alice,
    )
    rows = {
        r.key: r
        for r in config_diff(component=component, source_env=dev, target_env=prod, build=declared)
    }
    assert rows["REGION"].kind == "differs"

    prod_d = deployment_promote(
        component=component,
        source_env=dev,
        target_env=prod,
        actor=alice,
        config={"SESSIONS_URL": "prod-url", "API_TOKEN": "prod-token"},
    )
    assert prod_d.build_id == declared.pk
    assert ConfigVar.objects.get(environment=prod, key="SESSIONS_URL").value == "prod-url"
    statuses = {
        r.key: r.status
        for r in contract_rows(component=component, environment=prod, build=declared)
    }
    assert statuses == {
        "SESSIONS_URL": "set",
        "API_TOKEN": "set",
        "TIMEOUT_MINUTES": "default",
        "ENDPOINT": "unset",
    }


def test_a_build_without_a_contract_deploys_as_before(component, dev, build, bob):
    assert deploy(component, dev, build, bob).status == "active"


def test_a_new_build_with_other_defaults_starts_a_new_config_revision(
    component, dev, declared, make_build, bob
):
    d = deploy(component, dev, declared, bob, config={"SESSIONS_URL": "s", "API_TOKEN": SECRET})
    before = Deployment.objects.get(pk=d.pk).config_revision
    other = make_build(
        manifest=parse_manifest('[config.TIMEOUT_MINUTES]\ntype = "int"\ndefault = 5\n').to_json()
    )
    d = deploy(component, dev, other, bob)
    assert d.config_revision == before + 1
    assert deployment_runtime_env(deployment=d)[0]["TIMEOUT_MINUTES"] == "5"
