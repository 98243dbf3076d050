"""Credentials in git URLs (https://user:token@host/…) are refused, and rows saved before are
cleaned: a component's URL is shown to viewers, in the API and in build logs."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.utils import timezone

from components.models import Component
from deployments.models import Build, BuildLogLine, DeploymentEvent
from tests.support.gitrepos import BareRepo
from tests.unit.api.conftest import Api

pytestmark = pytest.mark.django_db

TOKEN = "ghp_Narwhal0123456789credential"


@pytest.fixture
def repo(tmp_path):
    r = BareRepo.create(tmp_path / "tasks.git")
    r.commit({"Dockerfile": 'FROM busybox\nCMD ["echo", "hi"]\n'}, message="first")
    return r


@pytest.mark.parametrize(
    "url",
    [
        f"https://octo:{TOKEN}@github.com/octo/tasks.git",
        f"https://{TOKEN}@github.com/octo/tasks.git",
        f"http://x-access-token:{TOKEN}@git.example.com/tasks.git",
        f"ssh://git:{TOKEN}@git.example.com/tasks.git",
    ],
)
def test_the_api_refuses_a_url_with_a_credential(project, bob, url):
    r = Api(bob).post(
        "projects/payments/components/create/",
        {"name": "report", "source_kind": "git", "git_url": url, "branch": "main"},
    )
    assert r.status_code == 400
    message = r.json()["error"]["fields"]["git_url"][0]
    assert message.startswith("This git URL carries a credential")
    assert "GitHub connections" in message
    assert TOKEN not in r.content.decode()
    assert not Component.objects.filter(name="report").exists()


def test_the_edit_page_refuses_a_url_with_a_credential(project, bob, client_for, repo):
    component = Component.objects.create(
        project=project, name="report", source_kind="git", git_url=repo.url, branch="main"
    )
    r = client_for(bob).post(
        f"/p/{project.slug}/c/report/edit/",
        {
            "git_url": f"https://octo:{TOKEN}@github.com/octo/tasks.git",
            "branch": "main",
            "path": "",
            "preset": "dockerfile",
            "entry_command": "",
        },
    )
    assert r.status_code == 200
    assert "This git URL carries a credential" in r.content.decode()
    component.refresh_from_db()
    assert component.git_url == repo.url


def test_an_ssh_user_name_is_not_a_credential(project, bob, settings):
    settings.CHORUS_ALLOW_LOCAL_GIT_URLS = True  # no DNS for example.com here
    from components.sources.git import validate_git_url

    assert validate_git_url("ssh://git@example.com/a/b") == "ssh://git@example.com/a/b"
    assert validate_git_url("git@github.com:a/b.git") == "git@github.com:a/b.git"


def test_rows_saved_before_are_cleaned(project, carol, client_for):
    """A URL saved before the refusal, its build log and error, and the deploy log lose it."""
    url = f"https://octo:{TOKEN}@github.com/octo/tasks.git"
    component = Component.objects.create(
        project=project, name="legacy", source_kind="git", git_url=url, branch="main"
    )
    build = Build.objects.create(
        component=component,
        commit_sha="a" * 40,
        status="failed",
        preset="dockerfile",
        error=f"git fetch {url} failed",
        finished_at=timezone.now(),
    )
    BuildLogLine.objects.create(build=build, seq=1, text=f"Fetching {url}", ts=timezone.now())
    DeploymentEvent.objects.create(component=component, kind="deploy", message=f"from {url}")
    viewer = client_for(carol)
    assert TOKEN in viewer.get(f"/p/{project.slug}/c/legacy/").content.decode()  # the leak

    migration = importlib.import_module("components.migrations.0003_git_url_credentials_removed")
    migration.forwards(django_apps, None)

    component.refresh_from_db()
    assert component.git_url == "https://github.com/octo/tasks.git"
    build.refresh_from_db()
    assert TOKEN not in build.error and "git fetch" in build.error
    assert (
        BuildLogLine.objects.get(build=build).text
        == "Fetching https://••••@github.com/octo/tasks.git"
    )
    assert TOKEN not in DeploymentEvent.objects.get(component=component).message
    for page in [
        f"/p/{project.slug}/c/legacy/",
        f"/p/{project.slug}/c/legacy/builds/{build.pk}/",
        f"/p/{project.slug}/components/",
    ]:
        r = viewer.get(page)
        assert r.status_code == 200, page
        assert TOKEN not in r.content.decode(), page
    api = Api(carol)
    for path in ["projects/payments/components/legacy/", f"builds/{build.pk}/logs/"]:
        r = api.get(path)
        assert r.status_code == 200, (path, r.content)
        assert TOKEN not in r.content.decode(), path
