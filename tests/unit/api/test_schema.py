"""The generated OpenAPI schema is served, valid, and says what the API really answers."""

from __future__ import annotations

import pytest

from .schema_check import all_operations, generated_schema, validate_response

pytestmark = pytest.mark.django_db

P = "projects/payments/"
C = P + "components/nightly/"


def test_schema_is_served_as_openapi3_with_token_auth(client_for, alice):
    r = client_for(alice).get("/api/schema/", {"format": "json"})
    assert r.status_code == 200
    schema = r.json()
    assert schema["openapi"].startswith("3.")
    scheme = schema["components"]["securitySchemes"]["tokenAuth"]
    assert scheme == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "chorus_…",
        "description": scheme["description"],
    }
    promote = schema["paths"][
        "/api/v1/projects/{project}/components/{component}/deployments/{env}/promote/"
    ]
    assert promote["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"] == (
        "#/components/schemas/PromoteInRequest"
    )
    assert set(promote["post"]["responses"]) == {"200", "400", "401", "403", "404"}


def test_deploy_and_promote_document_payload_and_config_each_in_their_own_words():
    schemas = generated_schema()["components"]["schemas"]
    deploy = schemas["DeployInRequest"]["properties"]
    promote = schemas["PromoteInRequest"]["properties"]
    assert deploy["payload"]["description"].endswith("left out: the deployment keeps its own.")
    assert promote["payload"]["description"].endswith("left out: the target's, or the source's.")
    assert deploy["config"]["description"].startswith("{KEY: value} set in the environment first")
    assert promote["config"]["description"].startswith(
        "{KEY: value} set in the target first (configuration is never copied)"
    )
    for fields in (deploy, promote):
        assert fields["payload"]["nullable"] is True
        assert fields["config"]["additionalProperties"] == {"type": "string", "maxLength": 32768}
        assert "Refused with 400" in fields["config"]["description"]


def test_schema_generates_without_warnings():
    from drf_spectacular.drainage import GENERATOR_STATS

    GENERATOR_STATS.reset()
    from drf_spectacular.generators import SchemaGenerator

    SchemaGenerator().get_schema(request=None, public=True)
    assert not GENERATOR_STATS._warn_cache, list(GENERATOR_STATS._warn_cache)
    assert not GENERATOR_STATS._error_cache, list(GENERATOR_STATS._error_cache)


def test_swagger_ui_is_served_from_local_static_files(client_for, alice):
    r = client_for(alice).get("/api/docs/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()


def test_every_operation_answers_as_the_schema_says(
    apis, project, component, build, envs, alice, password
):
    """Call every operation (success and the usual failures) and validate each body."""
    from django.utils import timezone

    from deployments.models import BuildLogLine, Execution
    from observability.models import AlertDelivery

    owner, dev, viewer, outsider = (apis[r] for r in ("owner", "developer", "viewer", "outsider"))
    from .conftest import Api

    anon = Api()
    BuildLogLine.objects.create(build=build, seq=1, text="Step 1/2 : FROM busybox")

    # Account and projects
    owner.get("tokens/")
    token = owner.post("tokens/create/", {"name": "ci", "password": password}).json()
    owner.post(f"tokens/{token['id']}/revoke/")
    owner.post("tokens/999999/revoke/")
    owner.post("tokens/create/", {})
    owner.post("tokens/create/", {"name": "no password"})  # 403: a token alone makes no token
    anon.get("projects/")
    owner.get("projects/")
    dave_project = outsider.post("projects/create/", {"name": "Dave's"})
    assert dave_project.status_code == 201
    outsider.post("projects/create/", {"name": ""})
    owner.get(P)
    outsider.get(P)
    viewer.get(P + "members/")
    outsider.get(P + "members/")
    owner.post(P + "members/add/", {"username": "dave", "role": "viewer"})
    owner.post(P + "members/add/", {"username": "ghost"})
    dev.post(P + "members/add/", {"username": "dave"})
    owner.post(P + "members/dave/update/", {"role": "developer"})
    owner.post(P + "members/dave/update/", {"role": "king"})
    dev.post(P + "members/dave/update/", {"role": "owner"})
    owner.post(P + "members/dave/remove/")
    owner.post(P + "members/alice/remove/")
    dev.post(P + "members/carol/remove/")
    outsider.post(P + "members/carol/remove/")

    # Components
    viewer.get("samples/")
    viewer.get(P + "components/")
    outsider.get(P + "components/")
    dev.post(
        P + "components/create/",
        {"name": "extra", "source_kind": "sample", "sample_key": "data-cleanup"},
    )
    dev.post(P + "components/create/", {"name": "extra", "source_kind": "sample"})
    viewer.post(P + "components/create/", {"name": "x", "source_kind": "sample"})
    outsider.post(P + "components/create/", {"name": "x", "source_kind": "sample"})
    viewer.get(C)
    viewer.get(P + "components/ghost/")
    dev.post(C + "update/", {"description": "checks"})
    dev.post(C + "update/", {"preset": "cobol"})
    viewer.post(C + "update/", {"description": "x"})
    outsider.post(C + "update/", {})
    dev.post(P + "components/extra/delete/")
    viewer.post(C + "delete/")
    outsider.post(C + "delete/")

    # Builds
    viewer.get(C + "builds/")
    viewer.get(C + "builds/", {"status": "bogus"})
    outsider.get(C + "builds/")
    queued = dev.post(C + "builds/create/").json()
    dev.post(C + "builds/create/")  # reused: 200
    viewer.post(C + "builds/create/")
    outsider.post(C + "builds/create/")
    viewer.get(f"builds/{build.pk}/")
    outsider.get(f"builds/{build.pk}/")
    viewer.get(f"builds/{build.pk}/logs/", {"after": 0})
    viewer.get(f"builds/{build.pk}/logs/", {"after": -1})
    outsider.get(f"builds/{build.pk}/logs/")
    dev.post(f"builds/{queued['id']}/cancel/")
    dev.post(f"builds/{build.pk}/cancel/")
    viewer.post(f"builds/{build.pk}/cancel/")
    outsider.post(f"builds/{build.pk}/cancel/")

    # Environments and deployments
    viewer.get("environments/")
    viewer.get("health/")
    anon.get("health/")
    viewer.get("schedules/preview/", {"schedule": "0 2 * * *", "timezone": "Europe/Berlin"})
    viewer.get("schedules/preview/", {"schedule": "0 2 * *"})
    D, PR = C + "deployments/dev/", C + "deployments/prod/"
    dev.post(D + "deploy/", {"schedule": "0 2 * * *", "timezone": "Europe/Berlin"})
    dev.post(D + "deploy/", {"schedule": "0 25 * * *"})
    viewer.post(D + "deploy/", {"schedule": "@daily"})
    outsider.post(D + "deploy/", {"schedule": "@daily"})
    viewer.get(C + "deployments/")
    outsider.get(C + "deployments/")
    viewer.get(D)
    viewer.get(PR)
    dev.post(D + "policies/", {"max_retries": 1})
    dev.post(D + "policies/", {"max_retries": -1})
    viewer.post(D + "policies/", {"max_retries": 1})
    outsider.post(D + "policies/", {})
    owner.post(PR + "promote/")  # not yet run in dev: 400
    from deployments.models import Deployment

    Execution.objects.create(
        deployment=Deployment.objects.get(environment__slug="dev"),
        scheduled_for=timezone.now(),
        status="succeeded",
        build=build,
        exit_code=0,
    )
    dev.post(PR + "promote/")  # production: owners only
    outsider.post(PR + "promote/")
    owner.post(PR + "promote/", {"schedule": "0 3 * * *"})
    from deployments.models import Build

    older = Build.objects.create(
        component=component,
        commit_sha="0" * 40,
        status="succeeded",
        preset=component.preset,
        image_ref="chorus/payments/nightly:0",
    )
    dev.post(D + "rollback/", {"build": older.pk})
    dev.post(D + "rollback/", {"build": older.pk})  # already deployed: 400
    viewer.post(D + "rollback/", {"build": build.pk})
    outsider.post(D + "rollback/", {"build": build.pk})
    for action in ("suspend", "resume", "undeploy"):
        dev.post(D + f"{action}/")
        dev.post(D + f"{action}/") if action == "suspend" else None  # twice: 400
        viewer.post(D + f"{action}/")
        outsider.post(D + f"{action}/")
    dev.post(C + "deployments/staging/suspend/")  # unknown environment: 404
    viewer.get(C + "events/")
    viewer.get(C + "events/", {"kind": "bogus"})
    outsider.get(C + "events/")

    # Config and secrets
    dev.post(C + "config/dev/set/", {"key": "API_URL", "value": "https://x"})
    dev.post(C + "config/dev/set/", {"key": "TOKEN", "value": "hunter2", "is_secret": True})
    dev.post(C + "config/dev/set/", {"key": "9", "value": "x"})
    dev.post(C + "config/prod/set/", {"key": "A", "value": "x"})
    viewer.post(C + "config/dev/set/", {"key": "A", "value": "x"})
    outsider.post(C + "config/dev/set/", {"key": "A", "value": "x"})
    viewer.get(C + "config/dev/")
    outsider.get(C + "config/dev/")
    dev.post(C + "config/dev/unset/", {"key": "API_URL"})
    dev.post(C + "config/dev/unset/", {"key": "API_URL"})
    viewer.post(C + "config/dev/unset/", {"key": "TOKEN"})
    outsider.post(C + "config/dev/unset/", {"key": "TOKEN"})
    viewer.get(C + "config/dev/contract/")
    viewer.get(C + "config/prod/contract/", {"build": 999999})
    outsider.get(C + "config/dev/contract/")

    # Alerts
    A = P + "alerts/"
    ch = dev.post(
        A + "channels/create/",
        {"name": "ops", "kind": "email", "email_addresses": "ops@example.com"},
    ).json()
    dev.post(A + "channels/create/", {"name": "bad", "kind": "email"})
    viewer.post(A + "channels/create/", {"name": "x", "kind": "email"})
    outsider.post(A + "channels/create/", {"name": "x", "kind": "email"})
    viewer.get(A + "channels/")
    outsider.get(A + "channels/")
    rule = dev.post(C + "alerts/rules/create/", {"kind": "on_failure", "channel": ch["id"]}).json()
    dev.post(C + "alerts/rules/create/", {"kind": "long_run", "channel": ch["id"]})
    viewer.post(C + "alerts/rules/create/", {"kind": "on_failure", "channel": ch["id"]})
    outsider.post(C + "alerts/rules/create/", {})
    viewer.get(C + "alerts/rules/")
    outsider.get(C + "alerts/rules/")
    AlertDelivery.objects.create(channel_id=ch["id"], kind="test", subject="s", message="m")
    viewer.get(A + "deliveries/")
    viewer.get(A + "deliveries/", {"status": "nope"})
    outsider.get(A + "deliveries/")
    viewer.post(C + f"alerts/rules/{rule['id']}/delete/")
    outsider.post(C + f"alerts/rules/{rule['id']}/delete/")
    dev.post(C + f"alerts/rules/{rule['id']}/delete/")
    viewer.post(A + f"channels/{ch['id']}/delete/")
    outsider.post(A + f"channels/{ch['id']}/delete/")
    dev.post(A + f"channels/{ch['id']}/delete/")

    extra_executions(apis, build)
    extra_approvals(apis)

    # Validate every response; every operation must have been answered successfully.
    seen: set[str] = set()
    for api in (owner, dev, viewer, outsider, anon):
        for response in api.responses:
            assert response.status_code < 500, response.content
            seen.add(validate_response(response))
    succeeded = {s.rsplit(" ", 1)[0] for s in seen if s.rsplit(" ", 1)[1].startswith("2")}
    missing = all_operations() - succeeded
    assert not missing, f"operations never exercised successfully: {sorted(missing)}"
    statuses = {s.rsplit(" ", 1)[1] for s in seen}
    assert {"200", "201", "204", "400", "401", "403", "404"} <= statuses
    assert len(generated_schema()["paths"]) >= 40


def extra_executions(apis, build):
    """Run now, list, detail, logs, cancel, re-run (on a fresh dev deployment)."""
    from deployments.deploy.services.lifecycle import deployment_deploy
    from deployments.models import Environment, ExecutionLogLine

    owner, dev, viewer, outsider = (apis[r] for r in ("owner", "developer", "viewer", "outsider"))
    deployment_deploy(
        component=build.component,
        environment=Environment.objects.get(slug="dev"),
        build=build,
        schedule="@daily",
        actor=owner.user,
    )
    D = C + "deployments/dev/"
    run = dev.post(D + "run/", {"payload": {"n": 1}}).json()
    dev.post(D + "run/", {"payload": 1, "x": 2})
    viewer.post(D + "run/")
    outsider.post(D + "run/")
    ExecutionLogLine.objects.create(execution_id=run["id"], seq=1, text="hello")
    viewer.get(C + "executions/", {"status": "pending"})
    viewer.get(C + "executions/", {"status": "nope"})
    outsider.get(C + "executions/")
    viewer.get(f"executions/{run['id']}/")
    outsider.get(f"executions/{run['id']}/")
    viewer.get(f"executions/{run['id']}/logs/")
    viewer.get(f"executions/{run['id']}/logs/", {"limit": 0})
    outsider.get(f"executions/{run['id']}/logs/")
    viewer.post(f"executions/{run['id']}/rerun/")
    dev.post(f"executions/{run['id']}/rerun/")  # not finished: 400
    viewer.post(f"executions/{run['id']}/cancel/")
    outsider.post(f"executions/{run['id']}/cancel/")
    dev.post(f"executions/{run['id']}/cancel/")
    dev.post(f"executions/{run['id']}/cancel/")  # already cancelled: 400
    dev.post(f"executions/{run['id']}/rerun/")
    outsider.post(f"executions/{run['id']}/rerun/")


def extra_approvals(apis):
    """Approval settings and requests (a policy change of the Production deployment)."""
    owner, dev, viewer, outsider = (apis[r] for r in ("owner", "developer", "viewer", "outsider"))
    A = P + "approvals/"
    ask = {"component": "nightly", "action": "policy", "policies": {"max_retries": 2}}
    dev.post(A + "create/", ask)  # approvals off: 400
    dev.post(P + "settings/approvals/", {"production_approval": True})
    outsider.post(P + "settings/approvals/", {"production_approval": True})
    owner.post(P + "settings/approvals/", {"production_approval": True})
    owner.post(P + "settings/approvals/", {"production_approval": "maybe"})
    first = dev.post(A + "create/", {**ask, "comment": "flaky upstream"}).json()
    dev.post(A + "create/", {**ask, "action": "teleport"})
    viewer.post(A + "create/", ask)
    outsider.post(A + "create/", ask)
    viewer.get(A)
    viewer.get(A, {"status": "bogus"})
    outsider.get(A)
    viewer.get(A + f"{first['id']}/")
    outsider.get(A + f"{first['id']}/")
    viewer.get(A + "999999/")
    dev.post(A + f"{first['id']}/approve/")
    viewer.post(A + f"{first['id']}/refresh/")
    dev.post(A + f"{first['id']}/refresh/")
    owner.post(A + f"{first['id']}/approve/", {"revision": 1})  # refreshed since: 400
    owner.post(A + f"{first['id']}/approve/", {"revision": 2})
    owner.post(A + f"{first['id']}/approve/")  # already approved: 400
    second = dev.post(A + "create/", {**ask, "policies": {"max_retries": 4}}).json()
    dev.post(A + f"{second['id']}/reject/", {"reason": "no"})
    owner.post(A + f"{second['id']}/reject/", {})
    owner.post(A + f"{second['id']}/reject/", {"reason": "Not during the freeze"})
    third = dev.post(A + "create/", {**ask, "policies": {"max_retries": 5}}).json()
    owner.post(A + f"{third['id']}/withdraw/")
    dev.post(A + f"{third['id']}/withdraw/")
    outsider.post(A + f"{third['id']}/withdraw/")


def test_the_checker_rejects_what_the_schema_does_not_say(apis, project):
    """The check above would be worthless if it let an undeclared or mistyped field through."""
    import json

    r = apis["owner"].get(P)
    validate_response(r)
    body = r.json()
    for bad in ({**body, "surprise": 1}, {**body, "created_at": None}, {**body, "role": "god"}):
        r.content = json.dumps(bad).encode()
        r._json = bad  # the test client caches the parsed body
        with pytest.raises(AssertionError, match="does not match the schema"):
            validate_response(r)
    r.status_code = 409
    with pytest.raises(AssertionError, match="the schema documents"):
        validate_response(r)
