"""The config contract in the browser's forms: the deploy form asks for required settings
(suggesting the declared default), the promote page shows the configuration diff and refuses
until Production has the required keys; secrets are never rendered back."""

from __future__ import annotations

import pytest

from components.manifest import parse_manifest
from deployments.deploy.services.config import config_set
from deployments.deploy.services.lifecycle import deployment_deploy
from deployments.models import ConfigVar, Deployment

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
"""
SECRET = "tok-Narwhal-5512"


def url(component, tail=""):
    return f"/p/{component.project.slug}/c/{component.name}/{tail}"


@pytest.fixture
def declared(make_build):
    return make_build(manifest=parse_manifest(TOML).to_json())


def test_deploy_form_asks_for_required_settings_and_refuses_without_them(
    client_for, bob, component, declared
):
    c = client_for(bob)
    html = c.get(url(component, "env/dev/deploy/")).content.decode()
    assert "Settings declared by build #" in html
    assert 'name="config_SESSIONS_URL"' in html and 'value="demo-sessions.json"' in html
    assert 'name="config_API_TOKEN"' in html and 'type="password"' in html
    assert "Where the sessions are" in html and "default: 30" in html

    # The environment's Config & secrets lists what the build declares and is not set.
    page = c.get(url(component, "deploy/")).content.decode()
    declared_dev = page.split('id="declared-dev"')[1].split("</table>")[0]
    assert (
        "required — missing" in declared_dev and "default <code>30</code> applies" in declared_dev
    )
    assert "2 required missing" in page

    form = {"build": declared.pk, "schedule": "@hourly", "timezone": "UTC"}
    r = c.post(url(component, "env/dev/deploy/"), {**form, "config_SESSIONS_URL": "x"})
    html = r.content.decode()
    assert "Set API_TOKEN in Development first" in html
    assert "API_TOKEN is required: enter a value." in html
    assert not Deployment.objects.exists() and not ConfigVar.objects.exists()

    r = c.post(
        url(component, "env/dev/deploy/"),
        {
            **form,
            "config_SESSIONS_URL": "x",
            "config_API_TOKEN": SECRET,
            "config_TIMEOUT_MINUTES": "ten",
        },
    )
    assert "TIMEOUT_MINUTES must be a whole number" in r.content.decode()
    assert SECRET not in r.content.decode()
    assert not Deployment.objects.exists()

    r = c.post(
        url(component, "env/dev/deploy/"),
        {**form, "config_SESSIONS_URL": "x", "config_API_TOKEN": SECRET},
    )
    assert r.status_code == 302
    assert Deployment.objects.get().build_id == declared.pk
    assert ConfigVar.objects.get(key="API_TOKEN").is_secret
    # Set now: the form lists them instead of asking again, and never shows the secret.
    html = c.get(url(component, "deploy/")).content.decode()
    assert "Already set in Development" in html
    assert 'name="config_API_TOKEN"' not in html.split('id="env-prod"')[0]
    assert SECRET not in html


def test_promote_page_lists_missing_keys_and_refuses_until_they_are_set(
    client_for, alice, bob, component, declared, dev, prod, ran
):
    d = deployment_deploy(
        component=component,
        environment=dev,
        build=declared,
        schedule="@hourly",
        actor=bob,
        config={"SESSIONS_URL": "dev-sessions", "API_TOKEN": SECRET},
    )
    config_set(
        component=component, environment=dev, key="REGION", value="eu", is_secret=False, actor=bob
    )
    ran(d)
    c = client_for(alice)
    html = c.get(url(component, "env/prod/promote/")).content.decode()
    assert 'id="promote-config"' in html
    assert "required — missing in Production" in html
    assert 'data-key="REGION"' in html and "missing in Production" in html
    assert SECRET not in html
    assert 'name="config_SESSIONS_URL"' in html
    assert 'value="demo-sessions.json"' not in html  # Production is never pre-filled

    r = c.post(url(component, "env/prod/promote/"), {"schedule": "@daily", "timezone": "UTC"})
    html = r.content.decode()
    assert "Set SESSIONS_URL, API_TOKEN in Production first" in html
    assert "SESSIONS_URL is required: enter a value." in html
    assert not Deployment.objects.filter(environment=prod).exists()

    r = c.post(
        url(component, "env/prod/promote/"),
        {
            "schedule": "@daily",
            "timezone": "UTC",
            "config_SESSIONS_URL": "https://prod/sessions",
            "config_API_TOKEN": "prod-token",
        },
        follow=True,
    )
    assert "Promoted build #" in r.content.decode()
    assert Deployment.objects.get(environment=prod).build_id == declared.pk
    assert ConfigVar.objects.get(environment=prod, key="API_TOKEN").is_secret
