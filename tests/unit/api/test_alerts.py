"""Alert channels, rules and deliveries through the API; webhook URLs are never returned."""

from __future__ import annotations

import pytest

from .conftest import body_text

pytestmark = pytest.mark.django_db

P = "projects/payments/"
C = P + "components/nightly/"
HOOK = "https://hooks.example.com/services/T000/B000/very-secret-path"


@pytest.fixture
def channel(project, alice):
    from observability.services.alert_config import alert_channel_create

    return alert_channel_create(
        project=project, actor=alice, name="ops", kind="webhook", webhook_url=HOOK
    )


@pytest.mark.parametrize(
    "role,status", [("owner", 201), ("developer", 201), ("viewer", 403), ("outsider", 404)]
)
def test_channel_create_matrix_and_url_hidden(apis, project, role, status):
    r = apis[role].post(
        P + "alerts/channels/create/", {"name": "slack", "kind": "webhook", "webhook_url": HOOK}
    )
    assert r.status_code == status, r.content
    if status == 201:
        assert r.json()["target"] == "hooks.example.com (URL hidden)"
        listed = apis["viewer"].get(P + "alerts/channels/")
        assert [c["name"] for c in listed.json()["results"]] == ["slack"]
        for response in (r, listed):
            assert "very-secret-path" not in body_text(response)


def test_channel_create_invalid(apis, project):
    r = apis["owner"].post(P + "alerts/channels/create/", {"name": "m", "kind": "email"})
    assert r.status_code == 400 and "email_addresses" in r.json()["error"]["fields"]
    r = apis["owner"].post(
        P + "alerts/channels/create/", {"name": "w", "kind": "webhook", "webhook_url": "ftp://x"}
    )
    assert r.status_code == 400 and "webhook_url" in r.json()["error"]["fields"]
    r = apis["owner"].post(P + "alerts/channels/create/", {"name": "w", "kind": "pager"})
    assert r.status_code == 400 and "kind" in r.json()["error"]["fields"]


@pytest.mark.parametrize(
    "role,status", [("owner", 204), ("developer", 204), ("viewer", 403), ("outsider", 404)]
)
def test_channel_delete_matrix(apis, channel, role, status):
    r = apis[role].post(P + f"alerts/channels/{channel.pk}/delete/")
    assert r.status_code == status
    from observability.models import AlertChannel

    assert AlertChannel.objects.filter(pk=channel.pk).exists() == (status != 204)


@pytest.mark.parametrize(
    "role,status", [("owner", 201), ("developer", 201), ("viewer", 403), ("outsider", 404)]
)
def test_rule_create_matrix(apis, component, channel, role, status):
    r = apis[role].post(
        C + "alerts/rules/create/",
        {
            "kind": "consecutive_failures",
            "threshold": 3,
            "channel": channel.pk,
            "environment": "prod",
        },
    )
    assert r.status_code == status, r.content
    if status == 201:
        rule = r.json()
        assert rule["description"] == "after 3 consecutive failed ticks"
        assert rule["environment"] == "prod" and rule["channel_name"] == "ops"
        listed = apis["viewer"].get(C + "alerts/rules/").json()["results"]
        assert [x["id"] for x in listed] == [rule["id"]]


def test_rule_create_invalid(apis, component, channel):
    r = apis["owner"].post(C + "alerts/rules/create/", {"kind": "long_run", "channel": channel.pk})
    assert r.status_code == 400 and "threshold" in r.json()["error"]["fields"]
    r = apis["owner"].post(C + "alerts/rules/create/", {"kind": "on_failure", "channel": 424242})
    assert r.status_code == 400 and "channel" in r.json()["error"]["fields"]
    r = apis["owner"].post(
        C + "alerts/rules/create/",
        {"kind": "on_failure", "channel": channel.pk, "environment": "moon"},
    )
    assert r.status_code == 404


@pytest.mark.parametrize(
    "role,status", [("owner", 204), ("developer", 204), ("viewer", 403), ("outsider", 404)]
)
def test_rule_delete_matrix(apis, component, channel, alice, role, status):
    from observability.models import AlertRule
    from observability.services.alert_config import alert_rule_create

    rule = alert_rule_create(component=component, actor=alice, kind="on_failure", channel=channel)
    r = apis[role].post(C + f"alerts/rules/{rule.pk}/delete/")
    assert r.status_code == status
    assert AlertRule.objects.filter(pk=rule.pk).exists() == (status != 204)


@pytest.mark.parametrize("role,status", [("viewer", 200), ("outsider", 404)])
def test_deliveries_list_matrix(apis, channel, role, status):
    from observability.models import AlertDelivery

    AlertDelivery.objects.create(
        channel=channel,
        kind="alert",
        status="failed",
        subject="[Chorus] nightly failed",
        message="exit code 1",
        attempts=3,
        status_code=500,
        error="HTTP 500",
    )
    AlertDelivery.objects.create(
        channel=channel, kind="test", status="sent", subject="[Chorus] Test", message="hi"
    )
    r = apis[role].get(P + "alerts/deliveries/")
    assert r.status_code == status
    if status == 200:
        assert r.json()["count"] == 2
        r = apis[role].get(P + "alerts/deliveries/", {"status": "failed"})
        assert [d["subject"] for d in r.json()["results"]] == ["[Chorus] nightly failed"]
        assert "very-secret-path" not in body_text(r)


def test_health_is_for_everyone_signed_in_and_says_what_is_missing(apis):
    from observability.models import ProcessHeartbeat

    # No process at all (integration tests' real beats and workers may have checked in).
    ProcessHeartbeat.objects.all().delete()
    from django.utils import timezone

    from observability.models import ProcessHeartbeat

    from .conftest import Api

    assert Api().get("health/").status_code == 401
    body = apis["outsider"].get("health/").json()
    assert body["ok"] is False and len(body["problems"]) == 2 and body["processes"] == []
    ProcessHeartbeat.objects.create(name="beat@h:1", kind="beat", last_seen=timezone.now())
    ProcessHeartbeat.objects.create(
        name="w@h", kind="worker", queues="executions", last_seen=timezone.now()
    )
    body = apis["viewer"].get("health/").json()
    assert body["ok"] is True and body["problems"] == []
    assert [(p["kind"], p["queues"], p["fresh"]) for p in body["processes"]] == [
        ("beat", [], True),
        ("worker", ["executions"], True),
    ]
