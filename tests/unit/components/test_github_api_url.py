"""The GitHub API URL of a connection follows the git URL rule: no hosts on the server's own
network unless CHORUS_ALLOW_LOCAL_GIT_URLS (tests allow them: the stand-in is on 127.0.0.1)."""

from __future__ import annotations

import socket

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.urls import reverse

from components import github as gh
from components.models import GitHubConnection
from components.services import github_connection_create
from tests.support.git_servers import Recorder, free_port
from tests.support.github_standin import GitHubStandin

PRODUCTION = override_settings(
    CHORUS_ENV="production", PRODUCTION=True, CHORUS_ALLOW_LOCAL_GIT_URLS=False
)
TOKEN = "ghp_apiUrlCheckToken123"


def refusal(where: str) -> str:
    return (
        f"The GitHub API host {where} is a loopback, private or link-local address; APIs on "
        "the server's own network are not allowed here. Use a public host (an operator can "
        "allow them with CHORUS_ALLOW_LOCAL_GIT_URLS=true)."
    )


@pytest.fixture
def public_dns(monkeypatch):
    answers = {"api.github.com": "140.82.121.6", "ghe.example.com": "93.184.216.34"}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], 0))]
        if host == "ghe.internal":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 0))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize(
    "url,where",
    [
        ("http://127.0.0.1", "127.0.0.1"),
        ("http://10.0.0.5/api/v3", "10.0.0.5"),
        ("https://169.254.169.254/latest", "169.254.169.254"),
        ("https://ghe.internal/api/v3", "ghe.internal (10.1.2.3)"),
    ],
)
def test_private_api_hosts_are_refused(public_dns, url, where):
    with PRODUCTION, pytest.raises(ValidationError) as exc:
        gh.validate_api_url(url)
    assert exc.value.messages == [refusal(where)]


@pytest.mark.parametrize(
    "url", ["https://api.github.com", "https://ghe.example.com/api/v3/", "https://140.82.121.6"]
)
def test_public_api_hosts_are_accepted(public_dns, url):
    with PRODUCTION:
        assert gh.validate_api_url(url) == url.rstrip("/")


@pytest.mark.parametrize("url", ["ftp://ghe.example.com/api", "api.github.com", "https://"])
def test_urls_that_are_not_http_are_refused(public_dns, url):
    with pytest.raises(ValidationError, match="Enter the GitHub API URL"):
        gh.validate_api_url(url)


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.5"])
def test_connecting_a_private_api_url_is_refused_without_calling_it(project, alice, host):
    port = free_port("127.0.0.1")
    with PRODUCTION, Recorder("127.0.0.1", port) as api, pytest.raises(ValidationError) as exc:
        github_connection_create(
            project=project, actor=alice, token=TOKEN, base_url=f"http://{host}:{port}/api/v3"
        )
    assert exc.value.message_dict == {"base_url": [refusal(host)]}
    assert api.contacts == []
    assert not GitHubConnection.objects.exists()


@pytest.mark.django_db
def test_the_connect_page_shows_the_refusal_beside_the_api_url(project, bob, client_for):
    with PRODUCTION:
        r = client_for(bob).post(
            reverse("github_connections", args=[project.slug]),
            {"token": TOKEN, "base_url": "http://10.0.0.5/api/v3"},
        )
    assert r.status_code == 200
    assert r.context["form"].errors["base_url"] == [refusal("10.0.0.5")]
    assert not GitHubConnection.objects.exists()


@pytest.mark.django_db
def test_a_saved_connection_is_checked_again_before_every_api_call(project, alice, tmp_path):
    with GitHubStandin(token=TOKEN, login="octo", root=tmp_path / "gh") as standin:
        standin.add_repo("octo/tasks")
        # Saved while local URLs were allowed (as in development)...
        connection = github_connection_create(
            project=project, actor=alice, token=TOKEN, base_url=standin.base_url
        )
        assert [r.full_name for r in gh.repositories(connection)] == ["octo/tasks"]
        before = len(standin.requests)
        # ...then the server runs with them refused: no request leaves for 127.0.0.1.
        with PRODUCTION, pytest.raises(gh.GitHubError) as exc:
            gh.repositories(connection)
        assert str(exc.value) == refusal("127.0.0.1")
        assert len(standin.requests) == before
