"""deployments.deploy.services.config: plain config and secrets per environment."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from deployments.deploy.services.config import (
    config_delete,
    config_set,
    deployment_runtime_env,
)
from deployments.deploy.services.lifecycle import deployment_deploy
from deployments.models import ConfigVar, DeploymentEvent

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-Zebra-7741"


@pytest.fixture
def dev_deployment(component, dev, build, bob):
    return deployment_deploy(
        component=component, environment=dev, build=build, schedule="@hourly", actor=bob
    )


def test_secret_is_encrypted_at_rest_and_never_in_events(component, dev, bob, dev_deployment):
    config_set(
        component=component, environment=dev, key="API_KEY", value=SECRET, is_secret=True, actor=bob
    )
    with connection.cursor() as cur:
        cur.execute("SELECT value, value_encrypted FROM deployments_configvar")
        rows = cur.fetchall()
    assert len(rows) == 1
    plain, encrypted = rows[0]
    assert plain == "" and encrypted and SECRET not in encrypted
    with connection.cursor() as cur:
        cur.execute("SELECT message FROM deployments_deploymentevent")
        messages = [r[0] for r in cur.fetchall()]
    assert any("Added secret API_KEY (value hidden)" in m for m in messages)
    assert not any(SECRET in m for m in messages)


def test_runtime_env_decrypts_and_lists_secrets_longest_first(component, dev, bob, dev_deployment):
    config_set(
        component=component, environment=dev, key="REGION", value="eu", is_secret=False, actor=bob
    )
    config_set(
        component=component, environment=dev, key="A", value="short", is_secret=True, actor=bob
    )
    config_set(
        component=component, environment=dev, key="B", value=SECRET, is_secret=True, actor=bob
    )
    env, secrets = deployment_runtime_env(deployment=dev_deployment)
    assert env == {"REGION": "eu", "A": "short", "B": SECRET}
    assert secrets == [SECRET, "short"]


def test_config_change_bumps_revision_and_is_logged(component, dev, bob, dev_deployment):
    assert dev_deployment.config_revision == 1
    config_set(
        component=component, environment=dev, key="LEVEL", value="debug", is_secret=False, actor=bob
    )
    config_set(
        component=component, environment=dev, key="LEVEL", value="info", is_secret=False, actor=bob
    )
    config_delete(component=component, environment=dev, key="LEVEL", actor=bob)
    dev_deployment.refresh_from_db()
    assert dev_deployment.config_revision == 4
    messages = list(DeploymentEvent.objects.filter(kind="config").values_list("message", flat=True))
    assert messages == [
        "Deleted LEVEL; config revision 4",
        "Changed LEVEL = info; config revision 3",
        "Added LEVEL = debug; config revision 2",
    ]


def test_viewer_cannot_set_config_and_refusal_is_logged(component, dev, carol):
    with pytest.raises(PermissionDenied):
        config_set(
            component=component, environment=dev, key="X", value="1", is_secret=False, actor=carol
        )
    assert not ConfigVar.objects.exists()
    assert DeploymentEvent.objects.get().outcome == "failed"


def test_only_owners_change_production_secrets(component, prod, alice, bob):
    with pytest.raises(PermissionDenied, match="Only project owners can change secrets"):
        config_set(
            component=component, environment=prod, key="K", value=SECRET, is_secret=True, actor=bob
        )
    config_set(
        component=component, environment=prod, key="K", value=SECRET, is_secret=True, actor=alice
    )
    assert ConfigVar.objects.get(environment=prod).is_secret


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "Enter a variable name"),
        ("1ABC", "is not a valid variable name"),
        ("WITH SPACE", "is not a valid variable name"),
        ("CHORUS_EXECUTION_ID", "set by Chorus at run time"),
    ],
)
def test_bad_keys_are_refused(component, dev, bob, key, message):
    with pytest.raises(ValidationError, match=message):
        config_set(
            component=component, environment=dev, key=key, value="v", is_secret=False, actor=bob
        )


def test_secret_cannot_be_turned_plain(component, dev, bob):
    config_set(
        component=component, environment=dev, key="TOKEN", value=SECRET, is_secret=True, actor=bob
    )
    with pytest.raises(ValidationError, match="TOKEN is a secret; delete it first"):
        config_set(
            component=component, environment=dev, key="TOKEN", value="x", is_secret=False, actor=bob
        )
