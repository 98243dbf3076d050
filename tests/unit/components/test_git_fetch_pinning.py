"""Git connects only to the addresses that were checked (DNS rebinding, HTTP redirects).

The fake resolver below stands in for a DNS server the attacker controls; `git` itself still
uses the machine's real resolver, where "localhost" is 127.0.0.1. So whenever git resolves a
name again on its own, it reaches the `Recorder` listening on 127.0.0.1 - which is what these
tests prove does not happen. Where a fetch must succeed, the repository is served on
127.0.0.2 and the private-address rule is told to treat 127.0.0.2 as a public address.
"""

from __future__ import annotations

import socket
import subprocess

import pytest
from django.test import override_settings

from components.models import Component
from components.sources import SourceError, git, source_fetch, source_resolve, validate_git_url
from components.sources.git import commands as git_commands
from tests.support.git_servers import DumbHttp, GitDaemon, Recorder, free_port
from tests.support.gitrepos import BareRepo
from tests.support.gitrepos import git as run_test_git

PRODUCTION = override_settings(
    CHORUS_ENV="production", PRODUCTION=True, CHORUS_ALLOW_LOCAL_GIT_URLS=False
)
ALLOWED = override_settings(CHORUS_ALLOW_LOCAL_GIT_URLS=True)
PUBLIC = "93.184.216.34"
STAND_IN_PUBLIC = "127.0.0.2"  # a loopback address these tests let pass as public


@pytest.fixture
def repo(tmp_path) -> BareRepo:
    r = BareRepo.create(tmp_path / "srv" / "tasks.git")
    r.commit({"jobs/report/main.py": "print('pinned')\n"}, message="pinned commit")
    run_test_git("update-server-info", cwd=r.path)  # for the dumb HTTP protocol
    return r


@pytest.fixture
def dns(monkeypatch):
    """dns["localhost"] = [first answer, second answer, ...]; the last answer repeats.

    Names not listed (and address literals) go to the real resolver.
    """
    answers: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        queue = answers[host]
        address = queue.pop(0) if len(queue) > 1 else queue[0]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.fixture
def stand_in_is_public(settings):
    # The operator's allow-list of networks trusted as targets (portal/outbound.py).
    settings.CHORUS_OUTBOUND_ALLOW = [f"{STAND_IN_PUBLIC}/32"]


@pytest.fixture
def git_argv(monkeypatch):
    """The argv of every git command Chorus runs (the commands still run for real)."""
    seen: list[list[str]] = []
    real = subprocess.run

    def run(args, *a, **kw):
        # Chorus's run_git always restricts the transports; the test helpers' git does not.
        if "GIT_ALLOW_PROTOCOL" in (kw.get("env") or {}):
            seen.append(list(args))
        return real(args, *a, **kw)

    monkeypatch.setattr(git_commands.subprocess, "run", run)
    return seen


def remote_commands(argv: list[list[str]]) -> list[list[str]]:
    return [a for a in argv if "ls-remote" in a or "fetch" in a]


def component(url: str) -> Component:
    return Component(source_kind="git", git_url=url, branch="main", path="jobs/report")


# --- DNS rebinding -------------------------------------------------------------------------
def test_a_name_that_rebinds_to_loopback_after_the_check_is_not_fetched(dns, git_argv):
    port = free_port("127.0.0.1")
    url = f"http://localhost:{port}/tasks.git"
    # Public when the URL is saved and when the build checks it; 127.0.0.1 when git connects.
    dns["localhost"] = [PUBLIC, PUBLIC, "127.0.0.1"]
    with PRODUCTION, Recorder("127.0.0.1", port) as internal:
        assert validate_git_url(url) == url  # the save-time check passes
        with pytest.raises(SourceError) as exc:
            source_resolve(component=component(url))
    assert str(exc.value) == (
        f"Cannot reach the repository {url}: The git host localhost (127.0.0.1) is a loopback, "
        "private or link-local address; repositories on the server's own network are not "
        "allowed here. Use a public host (an operator can allow them with "
        "CHORUS_ALLOW_LOCAL_GIT_URLS=true)."
    )
    assert internal.contacts == []
    assert remote_commands(git_argv) == []  # refused before git ran


def test_pinned_http_fetch_reaches_only_the_checked_address(
    dns, stand_in_is_public, git_argv, repo, tmp_path
):
    """git's own resolver says localhost is 127.0.0.1; the check said 127.0.0.2: git must go
    to 127.0.0.2 (where the repository is), never 127.0.0.1."""
    port = free_port("127.0.0.1", STAND_IN_PUBLIC)
    url = f"http://localhost:{port}/tasks.git"
    dns["localhost"] = [STAND_IN_PUBLIC]
    with (
        PRODUCTION,
        Recorder("127.0.0.1", port) as internal,
        DumbHttp(STAND_IN_PUBLIC, port, repo.path.parent) as server,
    ):
        resolved = source_resolve(component=component(url))
        out = source_fetch(component=component(url), sha=resolved.sha, dest=tmp_path / "out")
    assert resolved.sha == repo.head() and resolved.message == "pinned commit"
    assert (out / "main.py").read_text() == "print('pinned')\n"
    assert internal.contacts == []
    assert any(p.startswith("/tasks.git/info/refs") for p in server.paths)
    commands = remote_commands(git_argv)
    assert commands, "git ls-remote / fetch ran"
    for argv in commands:
        assert argv[:5] == [
            "git",
            "-c",
            f"http.curloptResolve=localhost:{port}:{STAND_IN_PUBLIC}",
            "-c",
            "http.followRedirects=false",
        ]
        assert url in argv


def test_git_protocol_url_connects_to_the_checked_address_literal(
    dns, stand_in_is_public, git_argv, repo
):
    port = free_port("127.0.0.1", STAND_IN_PUBLIC)
    dns["localhost"] = [STAND_IN_PUBLIC]
    with (
        PRODUCTION,
        Recorder("127.0.0.1", port) as internal,
        GitDaemon(STAND_IN_PUBLIC, port, repo.path.parent),
    ):
        refs = git.ls_remote(f"git://localhost:{port}/tasks.git", timeout=20)
    assert refs["refs/heads/main"] == repo.head()
    assert internal.contacts == []
    [argv] = remote_commands(git_argv)
    assert argv == ["git", "ls-remote", "--", f"git://{STAND_IN_PUBLIC}:{port}/tasks.git"]


def test_ssh_host_is_checked_again_right_before_git_runs(dns, git_argv):
    port = free_port("127.0.0.1")
    url = f"ssh://git@localhost:{port}/team/tasks.git"
    dns["localhost"] = [PUBLIC, "127.0.0.1"]
    with PRODUCTION, Recorder("127.0.0.1", port) as internal:
        assert validate_git_url(url) == url
        with pytest.raises(git.GitError, match=r"The git host localhost \(127\.0\.0\.1\) is a"):
            git.ls_remote(url, timeout=20)
    assert internal.contacts == []
    assert remote_commands(git_argv) == []


# --- redirects -----------------------------------------------------------------------------
def test_an_http_redirect_to_another_host_is_not_followed(dns, stand_in_is_public, tmp_path):
    port = free_port(STAND_IN_PUBLIC)
    internal_port = free_port("127.0.0.1")
    dns["git.example.com"] = [STAND_IN_PUBLIC]
    with (
        PRODUCTION,
        Recorder("127.0.0.1", internal_port) as internal,
        DumbHttp(
            STAND_IN_PUBLIC, port, tmp_path, redirect_to=f"http://127.0.0.1:{internal_port}"
        ) as server,
        pytest.raises(SourceError) as exc,
    ):
        source_resolve(component=component(f"http://git.example.com:{port}/tasks.git"))
    assert server.paths, "git asked the checked address"
    assert internal.contacts == []
    assert str(exc.value).startswith(
        f"Cannot reach the repository http://git.example.com:{port}/tasks.git: "
        "git ls-remote failed:"
    )


# --- the command lines ---------------------------------------------------------------------
@pytest.fixture
def fake_git(monkeypatch):
    """Records git's argv and answers like a remote with one branch, without any network."""
    seen: list[list[str]] = []

    def run(args, *a, **kw):
        seen.append(list(args))
        return subprocess.CompletedProcess(args, 0, stdout=f"{'a' * 40}\trefs/heads/main\n")

    monkeypatch.setattr(git_commands.subprocess, "run", run)
    return seen


@pytest.mark.parametrize(
    "url,answers,pin",
    [
        ("https://git.example.com/team/tasks.git", [PUBLIC], f"git.example.com:443:{PUBLIC}"),
        ("https://GIT.example.com:8443/t.git", [PUBLIC], f"git.example.com:8443:{PUBLIC}"),
        ("http://git.example.com/t.git", ["2001:db8::7"], "git.example.com:80:[2001:db8::7]"),
    ],
)
def test_http_urls_get_the_address_pin_and_no_redirects(dns, fake_git, url, answers, pin):
    dns[url.split("/")[2].split(":")[0].lower()] = answers
    with PRODUCTION:
        assert git.ls_remote(url) == {"refs/heads/main": "a" * 40}
    assert fake_git == [
        [
            "git",
            "-c",
            f"http.curloptResolve={pin}",
            "-c",
            "http.followRedirects=false",
            "ls-remote",
            "--",
            url,
        ]
    ]


def test_every_checked_address_is_pinned_and_one_private_answer_refuses(monkeypatch, fake_git):
    def getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    url = "https://git.example.com/t.git"
    addresses = [PUBLIC, "140.82.121.4"]
    with PRODUCTION:
        git.ls_remote(url)
        addresses = [PUBLIC, "169.254.169.254"]
        with pytest.raises(git.GitError, match=r"git\.example\.com \(169\.254\.169\.254\)"):
            git.ls_remote(url)
    assert len(fake_git) == 1
    assert f"http.curloptResolve=git.example.com:443:{PUBLIC},140.82.121.4" in fake_git[0]


def test_an_address_literal_needs_no_pin_but_still_no_redirects(fake_git):
    with PRODUCTION:
        git.ls_remote("https://140.82.121.4/t.git")
    assert fake_git[0][:5] == ["git", "-c", "http.followRedirects=false", "ls-remote", "--"]


def test_a_trailing_dot_host_is_refused_because_curl_would_resolve_it_again(dns, fake_git):
    dns["git.example.com."] = [PUBLIC]
    with PRODUCTION, pytest.raises(git.GitError, match="not a plain ASCII host name"):
        git.ls_remote("https://git.example.com./t.git")
    assert fake_git == []


# --- local URLs allowed: as before ---------------------------------------------------------
def test_with_local_urls_allowed_http_fetches_work_unpinned(git_argv, repo, tmp_path):
    port = free_port("127.0.0.1")
    url = f"http://127.0.0.1:{port}/tasks.git"
    with ALLOWED, DumbHttp("127.0.0.1", port, repo.path.parent) as server:
        resolved = source_resolve(component=component(url))
        out = source_fetch(component=component(url), sha=resolved.sha, dest=tmp_path / "out")
    assert resolved.sha == repo.head()
    assert (out / "main.py").read_text() == "print('pinned')\n"
    assert server.paths
    for argv in remote_commands(git_argv):
        assert argv[1] in ("ls-remote", "fetch") and not any("http." in a for a in argv)
