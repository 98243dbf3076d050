"""Component services: create/update/delete rules, and delete stopping the schedules."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from components.models import Component
from components.presets import detect
from components.services import component_create, component_delete, component_update

pytestmark = pytest.mark.django_db


def test_delete_removes_the_deployments_schedules(project, alice, sample_component):
    from django_celery_beat.models import PeriodicTask

    from deployments.deploy.services.lifecycle import deployment_deploy
    from deployments.models import Build, Deployment, Environment

    build = Build.objects.create(
        component=sample_component,
        commit_sha="sample-abc",
        status=Build.Status.SUCCEEDED,
        preset="python",
        image_ref="chorus/payments/cleanup:abc",
        image_digest="sha256:" + "a" * 64,
    )
    dev = Environment.objects.get(slug="dev")
    deployment = deployment_deploy(
        component=sample_component,
        environment=dev,
        build=build,
        schedule="*/5 * * * *",
        actor=alice,
    )
    task_id = deployment.periodic_task_id
    assert PeriodicTask.objects.filter(pk=task_id, enabled=True).exists()

    component_delete(component=sample_component, actor=alice)

    assert not PeriodicTask.objects.filter(pk=task_id).exists()
    assert not PeriodicTask.objects.filter(name__startswith="chorus:deployment:").exists()
    assert not Deployment.objects.exists() and not Build.objects.exists()
    assert not Component.objects.exists()


def test_viewer_cannot_create_update_or_delete(project, carol, sample_component):
    with pytest.raises(PermissionDenied):
        component_create(
            project=project, actor=carol, name="x", source_kind="sample", sample_key="data-cleanup"
        )
    with pytest.raises(PermissionDenied):
        component_update(component=sample_component, actor=carol, description="no")
    with pytest.raises(PermissionDenied):
        component_delete(component=sample_component, actor=carol)
    assert Component.objects.count() == 1


def test_sample_component_takes_the_samples_preset(project, bob):
    c = component_create(
        project=project, actor=bob, name="hc", source_kind="sample", sample_key="health-check"
    )
    assert (c.preset, c.entry_command, c.branch, c.path) == ("dockerfile", "", "", "")
    c = component_create(
        project=project,
        actor=bob,
        name="gh",
        source_kind="sample",
        sample_key="github-issues-summary",
    )
    assert (c.preset, c.entry_command) == ("python", "python3 main.py")


def test_unknown_sample_is_a_field_error(project, bob):
    with pytest.raises(ValidationError) as exc:
        component_create(
            project=project, actor=bob, name="x", source_kind="sample", sample_key="nope"
        )
    assert "sample_key" in exc.value.message_dict


def test_git_source_detected_on_create(project, bob, tasks_repo):
    c = component_create(
        project=project,
        actor=bob,
        name="docker",
        source_kind="git",
        git_url=tasks_repo.url,
        branch="main",
        path="/jobs/docker/",
    )
    assert (c.preset, c.path) == ("dockerfile", "jobs/docker")


def test_update_rechecks_the_source_and_keeps_the_row_on_error(project, bob, tasks_repo):
    c = component_create(
        project=project,
        actor=bob,
        name="report",
        source_kind="git",
        git_url=tasks_repo.url,
        branch="main",
        path="jobs/report",
    )
    with pytest.raises(ValidationError) as exc:
        component_update(component=c, actor=bob, path="docs")
    assert "No Dockerfile and no Python project" in exc.value.message_dict["path"][0]
    with pytest.raises(ValidationError) as exc:
        component_update(component=c, actor=bob, branch="nope")
    assert "does not exist" in exc.value.message_dict["branch"][0]
    c.refresh_from_db()
    assert (c.path, c.branch) == ("jobs/report", "main")
    c = component_update(component=c, actor=bob, path="jobs/docker", preset="dockerfile")
    assert c.preset == "dockerfile"


def test_update_refuses_a_preset_the_directory_lacks(project, bob, tasks_repo):
    c = component_create(
        project=project,
        actor=bob,
        name="docker",
        source_kind="git",
        git_url=tasks_repo.url,
        branch="main",
        path="jobs/docker",
    )
    with pytest.raises(ValidationError) as exc:
        component_update(component=c, actor=bob, preset="python", entry_command="python3 x.py")
    assert "does not fit" in exc.value.message_dict["preset"][0]


@pytest.mark.parametrize(
    "names,files,preset,entry",
    [
        (["Dockerfile", "main.py"], {}, "dockerfile", "python3 main.py"),
        (["requirements.txt", "main.py"], {}, "python", "python3 main.py"),
        (
            ["pyproject.toml", "chorus.toml", "run.py"],
            {"chorus.toml": 'entry = "python3 run.py"'},
            "python",
            "python3 run.py",
        ),
        (
            ["pyproject.toml", "nightly_job/"],
            {"pyproject.toml": '[project]\nname = "nightly-job"\n'},
            "python",
            "python3 -m nightly_job",
        ),
        (["setup.py", "lib/"], {}, "python", ""),
        (["README.md", "src/"], {}, None, ""),
    ],
)
def test_detect(names, files, preset, entry):
    d = detect(names, files, where="at “x”")
    assert (d.preset, d.entry) == (preset, entry)
    if preset is None:
        assert "Chorus needs either a Dockerfile, or a Python project" in d.summary
        assert "at “x”" in d.summary


def test_broken_chorus_toml_falls_back(project):
    d = detect(["main.py", "chorus.toml"], {"chorus.toml": "entry = "})
    assert (d.preset, d.entry) == ("python", "python3 main.py")


def test_sample_refuses_auto_build_with_a_reason(project, bob, sample_component):
    with pytest.raises(ValidationError) as exc:
        component_create(
            project=project,
            actor=bob,
            name="hc",
            source_kind="sample",
            sample_key="health-check",
            auto_build=True,
        )
    assert "Built-in samples never receive pushes" in " ".join(exc.value.message_dict["auto_build"])
    assert not Component.objects.filter(name="hc").exists()
    with pytest.raises(ValidationError) as exc:
        component_update(component=sample_component, actor=bob, auto_build=True)
    assert "auto_build" in exc.value.message_dict
    sample_component.refresh_from_db()
    assert sample_component.auto_build is False


def test_sample_update_clears_a_stale_auto_build(project, bob, sample_component):
    # Rows saved before samples refused auto_build: editing them must not fail on it.
    Component.objects.filter(pk=sample_component.pk).update(auto_build=True)
    c = component_update(component=sample_component, actor=bob, description="still cleans")
    assert (c.description, c.auto_build) == ("still cleans", False)
