"""DNS rebinding against the GitHub API client and alert webhooks, with a real DNS server.

The attacker controls the DNS of a name a member typed (a GitHub Enterprise URL, a webhook):
it answers an acceptable address to the check and 127.0.0.1 right after, hoping the HTTP
library resolves the name again and connects to a service on the server itself. Here:
- the DNS server is real (tests/support/dns_server.py, UDP on 127.0.0.1) and Chorus asks it
  (settings.CHORUS_DNS_SERVERS), with TTL 0 answers that change from one query to the next;
- 127.0.0.2 stands for a public host: the operator's allow-list (CHORUS_OUTBOUND_ALLOW) trusts
  it, while 127.0.0.1 stays refused. The legitimate server listens on 127.0.0.2:<port>, and a
  `Recorder` on 127.0.0.1:<same port> stands for the internal service the attacker wants.
"""

from __future__ import annotations

import ipaddress

import pytest
from django.core.exceptions import ValidationError

from components import github as gh
from components.services import github_connection_create
from observability.models import AlertDelivery
from observability.services.alert_config import alert_channel_create, alert_channel_test
from portal import outbound
from tests.support.dns_server import DnsServer
from tests.support.git_servers import Recorder
from tests.support.github_standin import GitHubStandin
from tests.support.webhook_receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PUBLIC = "127.0.0.2"  # what the operator's allow-list lets pass as a public address
INTERNAL = "127.0.0.1"


@pytest.fixture
def dns(settings):
    with DnsServer() as server:
        settings.CHORUS_DNS_SERVERS = [server.address]
        settings.CHORUS_OUTBOUND_ALLOW = [f"{PUBLIC}/32"]
        settings.CHORUS_ALLOW_LOCAL_GIT_URLS = False
        settings.CHORUS_ALERT_WEBHOOK_ALLOW_PRIVATE = False
        yield server


@pytest.fixture
def hook(dns):
    """A webhook receiver on PUBLIC:<port>, and the internal service on INTERNAL:<port>."""
    receiver = Receiver(PUBLIC)
    with Recorder(INTERNAL, receiver.port) as internal:
        yield receiver, internal
    receiver.close()


def test_the_resolver_is_the_configured_dns_server(dns):
    dns.answers["a.rebind.test"] = [PUBLIC, INTERNAL]
    assert outbound.resolve("a.rebind.test") == [ipaddress.ip_address(PUBLIC)]
    assert outbound.resolve("a.rebind.test") == [ipaddress.ip_address(INTERNAL)]
    assert dns.a_queries("a.rebind.test") == 2
    with pytest.raises(OSError):
        outbound.resolve("unknown.rebind.test")


def test_a_webhook_is_sent_to_the_address_that_was_checked(project, alice, dns, hook):
    receiver, internal = hook
    dns.answers["hooks.rebind.test"] = [PUBLIC]
    url = f"http://hooks.rebind.test:{receiver.port}/services/T0/B0/xoxb-credential"
    channel = alert_channel_create(
        project=project, actor=alice, name="slack", kind="webhook", webhook_url=url
    )
    # The attacker's DNS now answers the public address once, then the server itself.
    dns.answers["hooks.rebind.test"] = [PUBLIC, INTERNAL]
    before = dns.a_queries("hooks.rebind.test")
    delivery = alert_channel_test(channel=channel, actor=alice)
    assert delivery.status == AlertDelivery.Status.SENT, delivery.error
    assert len(receiver.messages) == 1
    assert receiver.messages[0]["path"] == "/services/T0/B0/xoxb-credential"
    assert internal.contacts == []  # the internal service was never reached
    assert dns.a_queries("hooks.rebind.test") == before + 1  # resolved once, for the check

    # The next send resolves again: the check sees 127.0.0.1 and nothing is sent.
    delivery = alert_channel_test(channel=channel, actor=alice)
    assert delivery.status == AlertDelivery.Status.FAILED
    assert delivery.error == (
        f"The webhook host “hooks.rebind.test ({INTERNAL})” is a private address; "
        "set CHORUS_ALERT_WEBHOOK_ALLOW_PRIVATE=true to allow it."
    )
    assert len(receiver.messages) == 1 and internal.contacts == []


@pytest.mark.parametrize(
    "host",
    ["100.100.100.200", "[64:ff9b::7f00:1]", "[::ffff:127.0.0.1]", "[::ffff:8.8.8.8]"],
)
def test_webhooks_to_cgnat_nat64_and_mapped_addresses_are_refused(project, alice, dns, host):
    with pytest.raises(ValidationError) as exc:
        alert_channel_create(
            project=project,
            actor=alice,
            name="x",
            kind="webhook",
            webhook_url=f"http://{host}/hook",
        )
    assert "is a private address" in str(exc.value)


def test_refused_networks():
    for address in ["100.64.0.1", "100.127.255.254", "64:ff9b::a00:1", "::ffff:10.0.0.1"]:
        assert outbound.is_refused(ipaddress.ip_address(address)), address
    for address in ["100.128.0.1", "8.8.8.8", "2606:4700::1111"]:
        assert not outbound.is_refused(ipaddress.ip_address(address)), address


def test_the_github_api_is_called_at_the_address_that_was_checked(project, alice, dns, tmp_path):
    standin = GitHubStandin(root=tmp_path / "gh", host=PUBLIC).start()
    port = int(standin.base_url.rsplit(":", 1)[1])
    with Recorder(INTERNAL, port) as internal:
        # One answer for the form's check and one for the request's connection, then 127.0.0.1.
        dns.answers["ghe.rebind.test"] = [PUBLIC, PUBLIC, INTERNAL]
        connection = github_connection_create(
            project=project,
            actor=alice,
            token=standin.token,
            base_url=f"http://ghe.rebind.test:{port}",
        )
        assert connection.login == standin.login
        assert len(standin.requests_to("GET", "/user")) == 1
        assert dns.a_queries("ghe.rebind.test") == 2

        # The DNS flips: the next request's check sees 127.0.0.1, and nothing connects there.
        with pytest.raises(gh.GitHubError) as exc:
            gh.repositories(connection)
        assert str(exc.value) == (
            f"The GitHub API host ghe.rebind.test ({INTERNAL}) is a loopback, private or "
            "link-local address; APIs on the server's own network are not allowed here. Use a "
            "public host (an operator can allow them with CHORUS_ALLOW_LOCAL_GIT_URLS=true)."
        )
        assert internal.contacts == []
    standin.stop()
