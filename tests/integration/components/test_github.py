"""GitHub through PyGitHub against the stand-in: connect, list, detect, sample pull request."""

from __future__ import annotations

import pytest
from django.urls import reverse

from components.models import Component, GitHubConnection
from components.samples import get_sample
from components.sources import source_fetch, source_resolve
from portal import crypto

from .conftest import TOKEN

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_connect_an_account_stores_the_token_encrypted(project, bob, client_for, standin):
    client = client_for(bob)
    url = reverse("github_connections", args=[project.slug])
    r = client.post(url, {"token": TOKEN, "base_url": standin.base_url})
    assert r.status_code == 302
    conn = GitHubConnection.objects.get(project=project)
    assert conn.login == "octo" and conn.base_url == standin.base_url
    assert TOKEN not in conn.token_encrypted and crypto.decrypt(conn.token_encrypted) == TOKEN
    page = client.get(url)
    assert b"octo" in page.content and TOKEN.encode() not in page.content
    # The stand-in saw the token: GET /user proved it works.
    assert [r.authorized for r in standin.requests_to("GET", "/user")] == [True]


def test_a_rejected_token_is_a_form_error(project, bob, client_for, standin):
    r = client_for(bob).post(
        reverse("github_connections", args=[project.slug]),
        {"token": "ghp_wrong", "base_url": standin.base_url},
    )
    assert r.status_code == 200
    assert "GitHub rejected the token (401 Bad credentials)" in r.content.decode()
    assert not GitHubConnection.objects.exists()


def test_an_unreachable_api_is_a_form_error(project, bob, client_for):
    r = client_for(bob).post(
        reverse("github_connections", args=[project.slug]),
        {"token": "x", "base_url": "http://127.0.0.1:9"},
    )
    assert r.status_code == 200
    assert "cannot be reached" in r.content.decode()


def test_wizard_lists_repositories_and_branches_and_detects(
    project, bob, client_for, gh_repo, connection, standin
):
    client = client_for(bob)
    url = reverse("component_create", args=[project.slug])
    r = client.post(url, {"step": "source", "kind": "github"})
    assert r.context["step"] == "github"
    choices = dict(r.context["form"].fields["repository"].choices)
    group = choices[f"octo @ {standin.base_url}"]
    assert [label for _, label in group] == ["octo/tasks", "octo/empty-repo"]
    repo_value = f"{connection.pk}:octo/tasks"

    r = client.post(url, {"step": "github", "kind": "github", "repository": repo_value})
    assert r.context["step"] == "branch"
    assert [b for b, _ in r.context["form"].fields["branch"].choices] == ["develop", "main"]
    assert r.context["state"]["branch"] == "main"  # the repository's default branch

    state = {"kind": "github", "repository": repo_value, "branch": "main"}
    r = client.post(url, {"step": "branch", **state})
    assert r.context["step"] == "path"
    assert r.context["root_names"] == ["README.md", "jobs/"]

    r = client.post(url, {"step": "path", **state, "path": "jobs/report"})
    assert r.context["step"] == "confirm"
    assert r.context["detection"].preset == "python"
    assert r.context["detection"].entry == "python3 main.py"

    r = client.post(
        url,
        {
            "step": "confirm",
            **state,
            "path": "jobs/report",
            "name": "report",
            "preset": "python",
            "entry_command": "python3 main.py",
        },
    )
    assert r.status_code == 302
    c = Component.objects.get(name="report")
    assert (c.source_kind, c.repository, c.branch, c.path) == (
        "github",
        "octo/tasks",
        "main",
        "jobs/report",
    )
    assert c.github_connection == connection
    assert standin.requests_to("GET", "/repos/octo/tasks/contents/jobs/report")
    assert all(req.authorized for req in standin.requests)


def test_github_path_without_a_task_is_a_form_error(project, bob, client_for, gh_repo, connection):
    state = {"kind": "github", "repository": f"{connection.pk}:octo/tasks", "branch": "main"}
    r = client_for(bob).post(
        reverse("component_create", args=[project.slug]), {"step": "path", **state, "path": "jobs"}
    )
    assert r.context["step"] == "path"
    assert "No Dockerfile and no Python project was found at “jobs”" in r.content.decode()
    r = client_for(bob).post(
        reverse("component_create", args=[project.slug]),
        {"step": "path", **state, "path": "jobs/missing"},
    )
    assert "“jobs/missing” does not exist on branch main of octo/tasks" in r.content.decode()


def test_start_with_a_sample_opens_a_pull_request(
    project, bob, client_for, gh_repo, connection, standin
):
    client = client_for(bob)
    url = reverse("component_create", args=[project.slug])
    state = {"kind": "github", "repository": f"{connection.pk}:octo/tasks", "branch": "main"}
    r = client.post(url, {"step": "path", **state, "path": "", "pr_sample": "health-check"})
    assert r.context["step"] == "confirm"
    assert r.context["state"]["path"] == "health-check"
    assert r.context["detection"].preset == "dockerfile"
    r = client.post(
        url,
        {
            "step": "confirm",
            **state,
            "path": "health-check",
            "pr_sample": "health-check",
            "name": "uptime",
            "preset": "dockerfile",
        },
    )
    assert r.status_code == 302
    c = Component.objects.get(name="uptime")
    assert c.pull_request_url == f"{standin.base_url}/octo/tasks/pull/1"

    # On GitHub's side: a pull request from a new branch holding exactly the sample's files.
    (pr,) = standin.pulls["octo/tasks"]
    assert pr["title"] == "Add the scheduled task “uptime” (Chorus sample: Health check)"
    assert (pr["head"], pr["base"]) == ("chorus/uptime", "main")
    assert gh_repo.bare.head("chorus/uptime") == pr["head_sha"]
    sample = get_sample("health-check")
    for name in ("Dockerfile", "main.py", "README.md"):
        expected = (sample.path / name).read_text()
        assert gh_repo.bare.show("chorus/uptime", f"health-check/{name}") == expected
    # The rest of the repository is untouched, and main did not move.
    assert gh_repo.bare.show("chorus/uptime", "README.md") == "# tasks\n"
    assert gh_repo.bare.show("main", "README.md") == "# tasks\n"

    page = client.get(reverse("component_detail", args=[project.slug, "uptime"]))
    assert c.pull_request_url.encode() in page.content


def test_sample_pull_request_refuses_an_existing_path(
    project, bob, client_for, gh_repo, connection
):
    state = {"kind": "github", "repository": f"{connection.pk}:octo/tasks", "branch": "main"}
    r = client_for(bob).post(
        reverse("component_create", args=[project.slug]),
        {"step": "path", **state, "path": "jobs/report", "pr_sample": "data-cleanup"},
    )
    assert r.context["step"] == "path"
    assert "“jobs/report” already holds files" in r.content.decode()


def test_second_pull_request_gets_a_new_branch(project, alice, gh_repo, connection, standin):
    from components.services import component_create

    for name, path in (("one", "a"), ("two", "b")):
        component_create(
            project=project,
            actor=alice,
            name=name,
            source_kind="github",
            repository="octo/tasks",
            github_connection=connection,
            branch="main",
            path=path,
            sample_pull_request="data-cleanup",
        )
    # Same component name prefix cannot clash, but a pre-existing branch must not break it.
    gh_repo.commit({"x": "1"}, branch="chorus/three")
    c = component_create(
        project=project,
        actor=alice,
        name="three",
        source_kind="github",
        repository="octo/tasks",
        github_connection=connection,
        branch="main",
        path="c",
        sample_pull_request="data-cleanup",
    )
    assert [p["head"] for p in standin.pulls["octo/tasks"]] == [
        "chorus/one",
        "chorus/two",
        "chorus/three-2",
    ]
    assert c.pull_request_url.endswith("/pull/3")


def test_resolve_and_fetch_a_github_component_at_an_exact_commit(
    project, alice, gh_repo, connection, standin, tmp_path
):
    from components.services import component_create

    c = component_create(
        project=project,
        actor=alice,
        name="report",
        source_kind="github",
        repository="octo/tasks",
        github_connection=connection,
        branch="main",
        path="jobs/report",
    )
    first = source_resolve(component=c)
    assert first.sha == gh_repo.bare.head("main") and first.message == "first tasks"
    gh_repo.commit({"jobs/report/main.py": "print('v2')\n"}, message="v2")
    assert source_resolve(component=c).message == "v2"
    out = source_fetch(component=c, sha=first.sha, dest=tmp_path / "src", log=None)
    assert (out / "main.py").read_text() == "print('report')\n"
    # The clone URL came from the API (GET /repos/octo/tasks), authenticated with the token.
    assert standin.requests_to("GET", "/repos/octo/tasks")


def test_a_revoked_token_gives_a_readable_source_error(
    project, alice, gh_repo, connection, standin
):
    from components.services import component_create
    from components.sources import SourceError

    c = component_create(
        project=project,
        actor=alice,
        name="report",
        source_kind="github",
        repository="octo/tasks",
        github_connection=connection,
        branch="main",
        path="jobs/report",
    )
    standin.token = "rotated"
    with pytest.raises(SourceError, match="GitHub rejected the token"):
        source_resolve(component=c)


def test_git_over_http_authenticates_with_the_token_and_never_shows_it(
    project, alice, tmp_path, standin
):
    """GitHub-style smart HTTP behind Basic auth: the token goes as a header, not in the URL."""
    from components.services import component_create, github_connection_create

    standin.git_over_http = True
    repo = standin.add_repo("octo/private-tasks", private=True)
    sha = repo.commit({"job/Dockerfile": "FROM busybox\n"}, message="add job")
    conn = github_connection_create(
        project=project, actor=alice, token=TOKEN, base_url=standin.base_url
    )
    c = component_create(
        project=project,
        actor=alice,
        name="private",
        source_kind="github",
        repository="octo/private-tasks",
        github_connection=conn,
        branch="main",
        path="job",
    )
    assert source_resolve(component=c).sha == sha
    out = source_fetch(component=c, sha=sha, dest=tmp_path / "src", log=None)
    assert (out / "Dockerfile").read_text() == "FROM busybox\n"
    git_requests = [r for r in standin.requests if r.path.startswith("/git/")]
    assert git_requests and all(r.authorized for r in git_requests)

    # Without credentials git fails at once with a readable message instead of prompting.
    from components.sources import git

    with pytest.raises(git.GitError, match="git ls-remote failed"):
        git.ls_remote(f"{standin.base_url}/git/octo/private-tasks.git", timeout=20)
