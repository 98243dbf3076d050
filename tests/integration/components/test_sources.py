"""source_resolve / source_fetch against real git repositories and the built-in samples."""

from __future__ import annotations

import socket

import pytest
from django.core.exceptions import ValidationError

from components.models import Component
from components.samples import get_sample
from components.sources import SourceError, source_fetch, source_resolve, validate_git_url
from tests.support.gitrepos import BareRepo

pytestmark = pytest.mark.integration


@pytest.fixture
def repo(tmp_path):
    r = BareRepo.create(tmp_path / "tasks.git")
    r.commit(
        {"jobs/report/main.py": "print('v1')\n", "jobs/report/requirements.txt": ""},
        message="first version",
    )
    return r


def git_component(repo, **kw) -> Component:
    fields = dict(source_kind="git", git_url=repo.url, branch="main", path="jobs/report")
    fields.update(kw)
    return Component(**fields)


def test_resolve_gives_the_branch_head_and_its_subject(repo):
    second = repo.commit({"jobs/report/main.py": "print('v2')\n"}, message="second version\n\nbody")
    resolved = source_resolve(component=git_component(repo))
    assert resolved.sha == second
    assert resolved.message == "second version"


def test_resolve_a_tag(repo):
    from tests.support.gitrepos import git

    first = repo.head()
    git("tag", "-a", "v1", "-m", "release", first, cwd=repo.path)
    repo.commit({"jobs/report/main.py": "print('v2')\n"}, message="later")
    assert source_resolve(component=git_component(repo, branch="v1")).sha == first


def test_fetch_checks_out_the_exact_commit_not_the_branch_head(repo, tmp_path):
    first = repo.head()
    repo.commit({"jobs/report/main.py": "print('v2')\n"}, message="second version")
    lines = []
    out = source_fetch(
        component=git_component(repo),
        sha=first,
        dest=tmp_path / "build",
        log=lambda text, stream="stdout": lines.append((stream, text)),
    )
    assert out == tmp_path / "build" / "jobs" / "report"
    assert (out / "main.py").read_text() == "print('v1')\n"
    assert not (tmp_path / "build" / ".git").exists()
    assert any(first[:12] in text for _, text in lines)


def test_fetch_of_a_commit_on_another_branch(repo, tmp_path):
    other = repo.commit({"jobs/report/main.py": "print('feature')\n"}, branch="feature")
    out = source_fetch(component=git_component(repo), sha=other, dest=tmp_path / "b", log=None)
    assert (out / "main.py").read_text() == "print('feature')\n"


def test_unknown_branch_is_named(repo):
    with pytest.raises(SourceError, match="“nope” does not exist.*Branches: main"):
        source_resolve(component=git_component(repo, branch="nope"))


def test_missing_path_is_named(repo):
    with pytest.raises(SourceError, match="path “jobs/other” does not exist"):
        source_resolve(component=git_component(repo, path="jobs/other"))


def test_unreachable_repository_is_readable(tmp_path):
    c = Component(source_kind="git", git_url=(tmp_path / "missing.git").as_uri(), branch="main")
    with pytest.raises(SourceError, match="Cannot reach the repository"):
        source_resolve(component=c)


def test_unknown_commit_fails_readably(repo, tmp_path):
    with pytest.raises(SourceError, match="Cannot fetch"):
        source_fetch(component=git_component(repo), sha="0" * 40, dest=tmp_path / "b", log=None)


def test_sample_hash_is_stable_and_fetch_copies_the_tree(tmp_path):
    c = Component(source_kind="sample", sample_key="data-cleanup")
    a = source_resolve(component=c)
    assert a == source_resolve(component=c)
    assert a.sha.startswith("sample-") and len(a.sha) <= 64
    out = source_fetch(component=c, sha=a.sha, dest=tmp_path / "s", log=None)
    sample = get_sample("data-cleanup")
    assert (out / "main.py").read_bytes() == (sample.path / "main.py").read_bytes()
    assert (out / "chorus.toml").exists()


def test_sample_fetch_refuses_a_stale_hash(tmp_path):
    c = Component(source_kind="sample", sample_key="health-check")
    with pytest.raises(SourceError, match="changed since"):
        source_fetch(component=c, sha="sample-" + "0" * 57, dest=tmp_path / "s", log=None)


@pytest.mark.parametrize("url", ["file:///etc", "/srv/repo.git", "../repo", "~/repo", "FILE:///x"])
def test_local_urls_are_refused_unless_allowed(settings, url):
    settings.CHORUS_ALLOW_LOCAL_GIT_URLS = False
    with pytest.raises(ValidationError, match="Local repositories"):
        validate_git_url(url)
    settings.CHORUS_ALLOW_LOCAL_GIT_URLS = True
    assert validate_git_url(url) == url


@pytest.mark.parametrize(
    "url",
    ["https://git.example.com/a/b.git", "ssh://git@example.com/a/b", "git@github.com:a/b.git"],
)
def test_network_urls_are_accepted_in_production(settings, monkeypatch, url):
    settings.CHORUS_ALLOW_LOCAL_GIT_URLS = False
    # Production also resolves the host (private addresses are refused); answer with a public
    # address so the test does not depend on this machine's DNS.
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("93.184.216.34", 0))]
    )
    assert validate_git_url(url) == url


@pytest.mark.parametrize(
    "url", ["ext::sh -c touch% /tmp/pwned", "ext::helper", "fd::17", "--upload-pack=x", "ftp://h/x"]
)
def test_dangerous_urls_are_always_refused(settings, url):
    settings.CHORUS_ALLOW_LOCAL_GIT_URLS = True
    with pytest.raises(ValidationError):
        validate_git_url(url)


def test_production_refuses_fetching_a_local_repository(settings, repo):
    settings.CHORUS_ALLOW_LOCAL_GIT_URLS = False
    with pytest.raises(SourceError, match="Local repositories"):
        source_resolve(component=git_component(repo))
