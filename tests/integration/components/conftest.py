"""Fixtures for the component integration tests: the GitHub stand-in with a real repository."""

from __future__ import annotations

import pytest

from tests.support.github_standin import GitHubStandin

TOKEN = "ghp_componentsIntegrationToken123"


@pytest.fixture
def standin(tmp_path):
    with GitHubStandin(token=TOKEN, login="octo", root=tmp_path / "github") as gh:
        yield gh


@pytest.fixture
def gh_repo(standin):
    """octo/tasks on the stand-in: a Python task at jobs/report and a Dockerfile at jobs/docker."""
    repo = standin.add_repo("octo/tasks", description="Nightly tasks")
    repo.commit(
        {
            "README.md": "# tasks\n",
            "jobs/report/main.py": "print('report')\n",
            "jobs/report/requirements.txt": "",
            "jobs/docker/Dockerfile": "FROM busybox\n",
        },
        message="first tasks",
    )
    repo.commit({"WIP.md": "wip\n"}, message="wip", branch="develop")
    standin.add_repo("octo/empty-repo")
    return repo


@pytest.fixture
def connection(project, alice, standin):
    from components.services import github_connection_create

    return github_connection_create(
        project=project, actor=alice, token=TOKEN, base_url=standin.base_url
    )
