"""POST /hooks/github/: signatures, branches, malformed bodies; builds queued for real."""

from __future__ import annotations

import json
import urllib.parse
import uuid

import pytest
from django.urls import reverse

from components.webhooks import signature_for
from deployments.models import Build
from portal import crypto

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def component(project, alice, gh_repo, connection):
    from components.services import component_create

    return component_create(
        project=project,
        actor=alice,
        name="report",
        source_kind="github",
        repository="octo/tasks",
        github_connection=connection,
        branch="main",
        path="jobs/report",
        auto_build=True,
    )


def push(gh_repo, ref="refs/heads/main", **extra) -> bytes:
    payload = {
        "ref": ref,
        "before": "0" * 40,
        "after": gh_repo.bare.head("main"),
        "repository": {"full_name": "octo/tasks", "default_branch": "main"},
        "pusher": {"name": "octo"},
        **extra,
    }
    return json.dumps(payload).encode()


def deliver(client, body: bytes, *, secret: str | None, event="push", signature=None, **kw):
    delivery = kw.get("delivery") or str(uuid.uuid4())
    headers = {"HTTP_X_GITHUB_EVENT": event, "HTTP_X_GITHUB_DELIVERY": delivery}
    if signature is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature
    elif secret is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature_for(secret, body)
    return client.post(
        reverse("github_webhook"),
        data=body,
        content_type=kw.get("content_type", "application/json"),
        **headers,
    )


def secret_of(component) -> str:
    return crypto.decrypt(component.webhook_secret_encrypted)


def test_valid_signature_queues_exactly_one_build(client, component, gh_repo):
    r = deliver(client, push(gh_repo), secret=secret_of(component))
    assert r.status_code == 202, r.content
    (build,) = Build.objects.filter(component=component)
    assert r.json()["queued"] == [
        {"component": f"{component.project.slug}/report", "build": build.pk}
    ]
    assert build.trigger == "webhook" and build.triggered_by is None
    assert build.commit_sha == gh_repo.bare.head("main") and build.status == "queued"


def test_another_push_of_the_same_commit_reuses_the_active_build(client, component, gh_repo):
    deliver(client, push(gh_repo), secret=secret_of(component))
    r = deliver(client, push(gh_repo, pusher={"name": "hubot"}), secret=secret_of(component))
    assert r.status_code == 202
    assert Build.objects.filter(component=component).count() == 1


def test_a_replayed_delivery_is_not_acted_on_again(client, component, gh_repo):
    """A delivery is signed over its body only: a captured one replays forever unless it is
    remembered, whatever X-GitHub-Delivery the replay carries."""
    body = push(gh_repo)
    r = deliver(client, body, secret=secret_of(component), delivery="72d3162e-cc78-11e3")
    assert r.status_code == 202
    build = Build.objects.get(component=component)
    build.status = Build.Status.SUCCEEDED  # finished: a new delivery would queue a new build
    build.save()
    for delivery in ("72d3162e-cc78-11e3", "a-new-id-the-attacker-made-up"):
        r = deliver(client, body, secret=secret_of(component), delivery=delivery)
        assert r.status_code == 200
        assert "was already received" in r.json()["note"]
    assert Build.objects.filter(component=component).count() == 1
    # A different body under an id already seen is refused too (ids are GitHub's, unique).
    other = push(gh_repo, pusher={"name": "hubot"})
    r = deliver(client, other, secret=secret_of(component), delivery="72d3162e-cc78-11e3")
    assert r.status_code == 200 and Build.objects.filter(component=component).count() == 1


def test_a_delivery_without_its_id_is_refused(client, component, gh_repo):
    body = push(gh_repo)
    r = client.post(
        reverse("github_webhook"),
        data=body,
        content_type="application/json",
        HTTP_X_GITHUB_EVENT="push",
        HTTP_X_HUB_SIGNATURE_256=signature_for(secret_of(component), body),
    )
    assert r.status_code == 400 and "X-GitHub-Delivery" in r.json()["error"]
    assert not Build.objects.exists()


def test_wrong_signature_is_403_and_queues_nothing(client, component, gh_repo):
    r = deliver(client, push(gh_repo), secret="not-the-secret")
    assert r.status_code == 403
    assert "signature does not match" in r.json()["error"]
    assert not Build.objects.exists()


def test_signature_of_another_body_is_403(client, component, gh_repo):
    sig = signature_for(secret_of(component), push(gh_repo, ref="refs/heads/other"))
    r = deliver(client, push(gh_repo), secret=None, signature=sig)
    assert r.status_code == 403
    assert not Build.objects.exists()


def test_missing_signature_header_is_403(client, component, gh_repo):
    r = deliver(client, push(gh_repo), secret=None)
    assert r.status_code == 403
    assert r.json() == {"error": "missing X-Hub-Signature-256 header"}
    assert not Build.objects.exists()


def test_push_to_another_branch_is_ignored(client, component, gh_repo):
    r = deliver(client, push(gh_repo, ref="refs/heads/develop"), secret=secret_of(component))
    assert r.status_code == 200
    assert "push to refs/heads/develop ignored (builds from main)" in r.json()["note"]
    assert not Build.objects.exists()


def test_malformed_json_is_400(client, component):
    body = b'{"ref": "refs/heads/main", "repository": '
    r = deliver(client, body, secret=secret_of(component))
    assert r.status_code == 400
    assert r.json() == {"error": "the body is not valid JSON"}
    assert not Build.objects.exists()


def test_ping_answers_pong(client, component, gh_repo):
    body = json.dumps(
        {
            "zen": "Keep it logically awesome.",
            "hook_id": 1,
            "repository": {"full_name": "octo/tasks"},
        }
    ).encode()
    r = deliver(client, body, secret=secret_of(component), event="ping")
    assert r.status_code == 200
    assert r.json()["note"] == "pong"
    assert not Build.objects.exists()


def test_auto_build_off_queues_nothing(client, component, gh_repo):
    from components.services import component_update

    component_update(component=component, actor=None, auto_build=False)
    r = deliver(client, push(gh_repo), secret=secret_of(component))
    assert r.status_code == 200
    assert "auto-build is off" in r.json()["note"]
    assert not Build.objects.exists()


def test_form_encoded_delivery(client, component, gh_repo):
    body = urllib.parse.urlencode({"payload": push(gh_repo).decode()}).encode()
    r = deliver(
        client, body, secret=secret_of(component), content_type="application/x-www-form-urlencoded"
    )
    assert r.status_code == 202
    assert Build.objects.filter(component=component).count() == 1


def test_only_the_component_whose_secret_signed_builds(
    client, component, gh_repo, project, alice, connection
):
    from components.services import component_create

    other = component_create(
        project=project,
        actor=alice,
        name="docker",
        source_kind="github",
        repository="octo/tasks",
        github_connection=connection,
        branch="main",
        path="jobs/docker",
        auto_build=True,
    )
    r = deliver(client, push(gh_repo), secret=secret_of(other))
    assert r.status_code == 202
    assert list(Build.objects.values_list("component__name", flat=True)) == ["docker"]


def test_rotated_secret_stops_the_old_one(client, component, gh_repo):
    from components.services import component_webhook_secret_rotate

    old = secret_of(component)
    new = component_webhook_secret_rotate(component=component, actor=None)
    assert deliver(client, push(gh_repo), secret=old).status_code == 403
    assert deliver(client, push(gh_repo), secret=new).status_code == 202


def test_get_is_not_allowed(client):
    assert client.get(reverse("github_webhook")).status_code == 405
