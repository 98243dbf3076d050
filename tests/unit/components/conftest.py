"""Fixtures for the component tests: a sample component, real bare git repositories."""

from __future__ import annotations

import pytest

from tests.support.gitrepos import BareRepo

PYTHON_TASK = {
    "jobs/report/main.py": "print('report')\n",
    "jobs/report/requirements.txt": "requests\n",
    "jobs/report/chorus.toml": 'entry = "python3 main.py --daily"\n',
    "jobs/docker/Dockerfile": 'FROM busybox\nCMD ["echo", "hi"]\n',
    "docs/README.md": "nothing to run here\n",
}


@pytest.fixture
def tasks_repo(tmp_path) -> BareRepo:
    repo = BareRepo.create(tmp_path / "tasks.git")
    repo.commit(PYTHON_TASK, message="tasks")
    return repo


@pytest.fixture
def sample_component(project, alice):
    from components.services import component_create

    return component_create(
        project=project,
        actor=alice,
        name="cleanup",
        source_kind="sample",
        sample_key="data-cleanup",
        description="Deletes old rows",
    )
