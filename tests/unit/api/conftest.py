"""API test helpers: a DRF client authenticated by a real API token per user."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient


class Api:
    """Calls /api/v1/… with a bearer token; every response is checked to be JSON (or 204)."""

    def __init__(self, user=None, *, key: str | None = None):
        self.client = APIClient()
        if user is not None:
            from portal.services import api_token_create

            _, key = api_token_create(user=user, name="tests")
        if key:
            self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        self.user = user
        self.responses = []

    def _url(self, path: str) -> str:
        return path if path.startswith("/api/") else "/api/v1/" + path.lstrip("/")

    def _record(self, response):
        self.responses.append(response)
        return response

    def get(self, path, params=None):
        return self._record(self.client.get(self._url(path), params or {}))

    def post(self, path, data=None, *, raw: str | None = None):
        if raw is not None:
            return self._record(
                self.client.post(self._url(path), raw, content_type="application/json")
            )
        return self._record(self.client.post(self._url(path), data or {}, format="json"))


@pytest.fixture
def api():
    """api(user) → an Api for that user (a fresh token); api() → anonymous."""
    return lambda user=None: Api(user)


@pytest.fixture
def apis(api, users_by_role):
    return {role: api(user) for role, user in users_by_role.items()}


def error_code(response) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["message"], body
    return body["error"]["code"]


def body_text(response) -> str:
    content = getattr(response, "content", b"")
    try:
        return json.dumps(response.json())
    except Exception:  # noqa: BLE001 - a non-JSON body is compared as text
        return content.decode(errors="replace")


# --- objects ------------------------------------------------------------------------------
@pytest.fixture
def component(project, alice):
    """payments/nightly, from the health-check sample."""
    from components.services import component_create

    return component_create(
        project=project,
        actor=alice,
        name="nightly",
        source_kind="sample",
        sample_key="health-check",
    )


@pytest.fixture
def make_build(component):
    def make(status="succeeded", sha="a" * 40, **extra):
        from deployments.models import Build

        return Build.objects.create(
            component=component,
            commit_sha=sha,
            commit_message="Initial",
            status=status,
            preset=component.preset,
            image_ref=f"chorus/payments/nightly:{sha[:12]}" if status == "succeeded" else "",
            **extra,
        )

    return make


@pytest.fixture
def build(make_build):
    return make_build()


@pytest.fixture
def envs():
    from deployments.models import Environment

    return {e.slug: e for e in Environment.objects.all()}


@pytest.fixture
def dev_deployment(component, build, envs, alice):
    from deployments.deploy.services.lifecycle import deployment_deploy

    return deployment_deploy(
        component=component,
        environment=envs["dev"],
        build=build,
        schedule="0 2 * * *",
        timezone="Europe/Berlin",
        actor=alice,
    )


@pytest.fixture
def succeeded_in_dev(dev_deployment, build):
    """One succeeded execution of the build in dev: what promotion to prod requires."""
    from django.utils import timezone

    from deployments.models import Execution

    return Execution.objects.create(
        deployment=dev_deployment,
        scheduled_for=timezone.now(),
        trigger="manual",
        status="succeeded",
        build=build,
        image_ref=build.image_ref,
        exit_code=0,
        finished_at=timezone.now(),
    )


@pytest.fixture
def world(apis, component, build, dev_deployment, alice):
    """One of everything, so each path reaches its validation rather than a 404."""
    from django.utils import timezone

    from deployments.models import Execution
    from observability.services.alert_config import alert_channel_create, alert_rule_create

    execution = Execution.objects.create(
        deployment=dev_deployment,
        scheduled_for=timezone.now(),
        status="failed",
        build=build,
        image_ref=build.image_ref,
        finished_at=timezone.now(),
    )
    channel = alert_channel_create(
        project=component.project,
        actor=alice,
        name="ops",
        kind="email",
        email_addresses="ops@example.com",
    )
    rule = alert_rule_create(component=component, actor=alice, kind="on_failure", channel=channel)
    from deployments.approvals.models import ApprovalRequest
    from deployments.models import Environment

    # A stored (pending) request, so the approval paths reach their validation.
    approval = ApprovalRequest.objects.create(
        component=component, environment=Environment.objects.get(slug="prod"), action="policy",
        params={"policies": {"max_retries": 2}}, requested_by=alice,
    )  # fmt: skip
    return {
        "approval_id": approval.pk,
        "project": "payments",
        "component": "nightly",
        "env": "dev",
        "username": "carol",
        "build_id": build.pk,
        "execution_id": execution.pk,
        "token_id": 1,
        "channel_id": channel.pk,
        "rule_id": rule.pk,
    }
