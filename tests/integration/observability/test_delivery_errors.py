"""A failed webhook delivery names the host only: never the URL (its credential) nor what the
receiver answered. The error is shown to every member, viewers included: in the channel-test
flash message, on the alerts page and in the deliveries API."""

from __future__ import annotations

import pytest
from django.test import Client

from observability.models import AlertDelivery
from observability.services.alert_config import alert_channel_create
from tests.support.git_servers import free_port
from tests.support.obs import make_component
from tests.support.webhook_receiver import Receiver
from tests.unit.api.conftest import Api

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

CREDENTIAL = "T0AAA/B0BBB/xoxb-Zebra-credential-4471"
ANSWER = b"internal admin page: db password Hunter2-Lynx"


@pytest.fixture
def component(project):
    return make_component(project)


def pages(project, component, carol) -> list[str]:
    viewer = Client()
    viewer.force_login(carol)
    alerts = viewer.get(f"/p/{project.slug}/c/{component.name}/alerts/")
    assert alerts.status_code == 200
    api = Api(carol).get(f"projects/{project.slug}/alerts/deliveries/")
    assert api.status_code == 200
    return [alerts.content.decode(), api.content.decode()]


def channel_test(project, component, alice, channel) -> str:
    owner = Client()
    owner.force_login(alice)
    r = owner.post(
        f"/p/{project.slug}/c/{component.name}/alerts/channels/{channel.pk}/test/", follow=True
    )
    assert r.status_code == 200
    return r.content.decode()


@pytest.mark.parametrize("case", ["error answer", "unreachable"])
def test_a_failed_delivery_shows_the_host_only(project, component, alice, carol, case):
    receiver = Receiver(body=ANSWER)
    receiver.status = 500
    port = receiver.port if case == "error answer" else free_port("127.0.0.1")
    url = f"http://127.0.0.1:{port}/services/{CREDENTIAL}?token=Q-Ocelot"
    channel = alert_channel_create(
        project=project, actor=alice, name="slack", kind="webhook", webhook_url=url
    )
    flash = channel_test(project, component, alice, channel)
    delivery = AlertDelivery.objects.get(channel=channel)
    assert delivery.status == AlertDelivery.Status.FAILED
    expected = (
        "webhook at 127.0.0.1 answered HTTP 500"
        if case == "error answer"
        else "webhook at 127.0.0.1 unreachable (ConnectionError)"
    )
    assert delivery.error == expected
    assert f"Test message to “slack” failed: {expected}" in flash
    # It really was sent (and really answered 500 with the page), or really found no one.
    assert len(receiver.messages) == (1 if case == "error answer" else 0)
    receiver.close()
    for text in [flash, *pages(project, component, carol)]:
        assert expected in text
        for secret in ("Zebra", "Ocelot", "Hunter2", "/services/"):
            assert secret not in text


def test_errors_stored_before_are_rewritten(project, alice):
    import importlib

    from django.apps import apps

    channel = alert_channel_create(
        project=project,
        actor=alice,
        name="slack",
        kind="webhook",
        webhook_url=f"https://127.0.0.1/services/{CREDENTIAL}",
    )
    old = {
        "webhook unreachable: ConnectionError: HTTPSConnectionPool(host='127.0.0.1', port=443): "
        f"Max retries exceeded with url: /services/{CREDENTIAL}": (
            "webhook at 127.0.0.1 unreachable (ConnectionError)"
        ),
        f"webhook answered HTTP 500: {ANSWER.decode()}": "webhook at 127.0.0.1 answered HTTP 500",
        "email not sent: SMTP refused": "email not sent: SMTP refused",
    }
    rows = [
        AlertDelivery.objects.create(channel=channel, kind="test", status="failed", error=error)
        for error in old
    ]
    migration = importlib.import_module(
        "observability.migrations.0004_delivery_errors_name_host_only"
    )
    migration.forwards(apps, None)
    for row, expected in zip(rows, old.values(), strict=True):
        row.refresh_from_db()
        assert row.error == expected
