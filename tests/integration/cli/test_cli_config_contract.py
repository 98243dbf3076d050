"""`chorus config list`, `deploy --set` and `promote --set` against a build whose chorus.toml
declares settings: the CLI shows the contract per environment, names what is missing, says how
to give it, and never prints a secret."""

from __future__ import annotations

import pytest

from components.manifest import parse_manifest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SECRET = "cli-Secret-Okapi-3307"
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


def test_config_contract_through_the_cli(chorus, tokens, project, alice):
    from django.utils import timezone

    from deployments.models import ConfigVar, Deployment, Execution
    from tests.support.factories import sample_component, succeeded_build

    component = sample_component(project, "sessions", created_by=alice)
    build = succeeded_build(component, manifest=parse_manifest(TOML).to_json())
    ref = f"{project.slug}/sessions"
    dev_token, owner_token = tokens["developer"], tokens["owner"]

    r = chorus("config", "list", ref, "--env", "dev", token=tokens["viewer"])
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == f"Declared by build #{build.pk}'s chorus.toml."
    assert lines[1].split()[:4] == ["KEY", "VALUE", "SECRET", "STATUS"]
    assert lines[2].split()[:4] == ["SESSIONS_URL", "-", "no", "missing"]
    assert "demo-sessions.json" in lines[2] and "Where the sessions are" in lines[2]
    assert lines[3].split()[:4] == ["API_TOKEN", "-", "yes", "missing"]
    assert lines[4].split()[:6] == ["TIMEOUT_MINUTES", "-", "no", "default", "int", "30"]
    assert lines[-1] == (
        "Missing (deploy and promote are refused until set): SESSIONS_URL, API_TOKEN"
    )

    deploy = ("deploy", ref, "--env", "dev", "--schedule", "@hourly")
    r = chorus(*deploy, token=dev_token)
    assert r.code == 1
    assert "Set SESSIONS_URL, API_TOKEN in Development first" in r.err
    assert f"chorus config list {ref} --env dev" in r.err and "--set KEY=VALUE" in r.err
    assert not Deployment.objects.exists()

    r = chorus(
        *deploy,
        "--set",
        "SESSIONS_URL=s",
        "--set",
        "API_TOKEN=-",
        stdin=SECRET + "\n",
        token=dev_token,
    )
    assert r.code == 0, r.err
    assert r.out.startswith("Deployed sessions to dev")
    assert ConfigVar.objects.get(key="API_TOKEN").is_secret  # declared secret: stored as one

    r = chorus("config", "set", ref, "--env", "dev", "TIMEOUT_MINUTES=soon", token=dev_token)
    assert r.code == 1 and "TIMEOUT_MINUTES must be a whole number" in r.err

    r = chorus("config", "list", ref, token=tokens["viewer"])
    assert r.code == 0, r.err
    assert "== dev" in r.out and "== prod" in r.out
    dev_part, prod_part = r.out.split("== prod")
    assert any(row.split()[:3] == ["API_TOKEN", "••••", "yes"] for row in dev_part.splitlines())
    assert "Missing" not in dev_part
    assert (
        "Missing (deploy and promote are refused until set): SESSIONS_URL, API_TOKEN" in prod_part
    )
    assert SECRET not in r.out

    r = chorus("config", "list", ref, "--env", "dev", "--json", token=tokens["viewer"])
    body = r.json()
    assert body["missing"] == [] and {v["key"] for v in body["variables"]} == {
        "SESSIONS_URL",
        "API_TOKEN",
    }
    assert SECRET not in r.out

    dev = Deployment.objects.get(environment__slug="dev")
    Execution.objects.create(
        deployment=dev,
        scheduled_for=timezone.now(),
        trigger="manual",
        status="succeeded",
        build=build,
        image_ref=build.image_ref,
        exit_code=0,
        finished_at=timezone.now(),
    )
    r = chorus("promote", ref, token=owner_token)
    assert r.code == 1 and "Set SESSIONS_URL, API_TOKEN in Production first" in r.err
    assert "--env prod" in r.err
    r = chorus(
        "promote", ref, "--set", "SESSIONS_URL=https://prod/s", "--set", "API_TOKEN=p-tok",
        token=owner_token,
    )  # fmt: skip
    assert r.code == 0, r.err
    assert r.out.startswith("Promoted sessions to prod")
    assert Deployment.objects.get(environment__slug="prod").build_id == build.pk
