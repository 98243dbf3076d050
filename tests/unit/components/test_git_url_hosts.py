"""Production refuses git URLs into the server's own networks (loopback, private, link-local)."""

from __future__ import annotations

import socket

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.urls import reverse

from components.models import Component
from components.sources import validate_git_url

PRODUCTION = override_settings(
    CHORUS_ENV="production", PRODUCTION=True, CHORUS_ALLOW_LOCAL_GIT_URLS=False
)
ALLOWED = override_settings(
    CHORUS_ENV="production", PRODUCTION=True, CHORUS_ALLOW_LOCAL_GIT_URLS=True
)

# What the fake resolver answers; a name not listed does not resolve.
DNS = {
    "git.example.com": ["93.184.216.34"],
    "github.com": ["140.82.121.4"],
    "gitlab.internal": ["10.20.30.40"],
    "split.example.com": ["93.184.216.34", "192.168.7.7"],  # one public, one private answer
    "v6.internal": ["fd12:3456::1"],
    "metadata.cloud": ["169.254.169.254"],
}


@pytest.fixture
def resolver(monkeypatch):
    asked: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        asked.append(host)
        if host not in DNS:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, 0),
            )
            for a in DNS[host]
        ]

    # No DNS in tests: the answers above stand in for it (the DB connection is already open).
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/team/tasks.git",
        "http://127.8.9.10:8080/tasks.git",
        "https://[::1]/tasks.git",
        "https://10.0.0.5/tasks.git",
        "ssh://git@172.16.0.9/team/tasks",
        "ssh://git@172.31.255.254:2222/team/tasks",
        "git@192.168.1.20:team/tasks.git",
        "git://169.254.169.254/latest",
        "https://[fd00::42]/tasks.git",
        "https://[fe80::1]/tasks.git",
        "https://[::ffff:127.0.0.1]/tasks.git",
        "https://0.0.0.0/tasks.git",
    ],
)
def test_private_address_literals_are_refused(resolver, url):
    with PRODUCTION, pytest.raises(ValidationError) as exc:
        validate_git_url(url)
    assert "loopback, private or link-local address" in exc.value.messages[0]
    assert resolver == []  # an address needs no lookup


@pytest.mark.parametrize(
    "url,host",
    [
        ("https://gitlab.internal/team/tasks.git", "gitlab.internal (10.20.30.40)"),
        ("git@gitlab.internal:team/tasks.git", "gitlab.internal (10.20.30.40)"),
        ("https://split.example.com/tasks.git", "split.example.com (192.168.7.7)"),
        ("ssh://git@v6.internal/tasks", "v6.internal (fd12:3456::1)"),
        ("http://metadata.cloud/latest", "metadata.cloud (169.254.169.254)"),
    ],
)
def test_names_resolving_to_private_addresses_are_refused(resolver, url, host):
    with PRODUCTION, pytest.raises(ValidationError) as exc:
        validate_git_url(url)
    assert (
        f"The git host {host} is a loopback, private or link-local address"
        in (exc.value.messages[0])
    )


def test_localhost_is_refused_through_the_real_resolver():
    with PRODUCTION, pytest.raises(ValidationError, match="localhost \\(127\\."):
        validate_git_url("https://localhost/team/tasks.git")


def test_unresolvable_host_gets_a_clear_message(resolver):
    with PRODUCTION, pytest.raises(ValidationError) as exc:
        validate_git_url("https://git.nowhere.invalid/tasks.git")
    assert exc.value.messages == [
        "Cannot resolve host “git.nowhere.invalid”: check the host name in the git URL."
    ]


@pytest.mark.parametrize(
    "url",
    [
        "https://git.example.com/team/tasks.git",
        "git@github.com:team/tasks.git",
        "https://172.32.0.1/tasks.git",  # just outside 172.16/12
        "https://11.0.0.1/tasks.git",
        "https://[2001:db8::1]/tasks.git",
    ],
)
def test_public_hosts_are_accepted(resolver, url):
    with PRODUCTION:
        assert validate_git_url(url) == url


def test_the_switch_allows_private_hosts_without_a_lookup(resolver):
    with ALLOWED:
        assert validate_git_url("https://127.0.0.1/tasks.git") == "https://127.0.0.1/tasks.git"
        assert validate_git_url("https://gitlab.internal/t.git") == "https://gitlab.internal/t.git"
        assert validate_git_url("https://git.nowhere.invalid/t.git")
    assert resolver == []


@pytest.mark.django_db
def test_wizard_shows_the_refusal_on_the_git_step(resolver, project, bob, client_for):
    with PRODUCTION:
        r = client_for(bob).post(
            reverse("component_create", args=[project.slug]),
            {"step": "git", "kind": "git", "git_url": "https://10.1.2.3/t.git", "branch": "main"},
        )
    assert r.status_code == 200 and r.context["step"] == "git"
    assert "loopback, private or link-local address" in r.content.decode()
    assert not Component.objects.exists()
