"""Image clean-up (deployments/builds/images.py): which images go, which stay, and what the
user sees afterwards. Removal goes through the record runtime, whose remove_image is watched."""

from __future__ import annotations

import itertools
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from deployments.builds.images import images_prune
from deployments.models import Build, Deployment, DeploymentEvent, Environment, Execution
from deployments.runtimes.base import ImageInUse, ImageRemoveError, RuntimeUnavailable
from deployments.runtimes.local.processes import proc_start_time
from deployments.runtimes.local.runtime import LocalRuntime
from deployments.runtimes.record import RecordRuntime
from tests.support.factories import sample_component

pytestmark = pytest.mark.django_db
_seq = itertools.count(1)
NOW = timezone.now()


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.CHORUS_DEFAULT_RUNTIME = "record"
    settings.CHORUS_IMAGE_KEEP_BUILDS = 2
    settings.CHORUS_IMAGE_KEEP_DAYS = 7
    return settings


@pytest.fixture
def removed(monkeypatch):
    """The refs the record runtime was asked to remove, in order."""
    refs: list[str] = []
    monkeypatch.setattr(RecordRuntime, "remove_image", lambda self, ref: refs.append(ref))
    return refs


@pytest.fixture
def component(project, alice):
    return sample_component(project, "nightly-report", created_by=alice)


@pytest.fixture
def make_build(component):
    def make(days_ago: float = 30, sha: str | None = None, **extra) -> Build:
        n = next(_seq)
        sha = sha or f"{n:02x}" * 20
        finished = NOW - timedelta(days=days_ago)
        return Build.objects.create(
            component=component,
            commit_sha=sha,
            status=extra.pop("status", Build.Status.SUCCEEDED),
            preset="python",
            runtime_kind="record",
            image_ref=f"chorus/payments/nightly-report:{sha[:12]}",
            image_digest=f"sha256:{n:064x}",
            queued_at=finished - timedelta(minutes=2),
            finished_at=finished,
            **extra,
        )

    return make


def deploy_row(build: Build, env_slug: str, status=Deployment.Status.ACTIVE) -> Deployment:
    return Deployment.objects.create(
        component=build.component,
        environment=Environment.objects.get(slug=env_slug),
        build=build,
        schedule="@daily",
        status=status,
    )


def marked(*builds: Build) -> list[bool]:
    return [Build.objects.get(pk=b.pk).image_removed_at is not None for b in builds]


# --- selection --------------------------------------------------------------------------------
def test_old_builds_beyond_the_last_n_are_removed_oldest_first(make_build, removed):
    builds = [make_build(days_ago=40 - i) for i in range(5)]  # builds[4] is the newest

    summary = images_prune(now=NOW)

    assert removed == [b.image_ref for b in builds[:3]]
    assert marked(*builds) == [True, True, True, False, False]
    assert summary.removed_builds == 3
    assert "Removed 3 image(s) of 3 build(s)" in summary.lines()[-1]


def test_builds_deployed_in_dev_or_prod_keep_their_image_even_when_suspended(make_build, removed):
    in_dev, in_prod, undeployed, old = (make_build(days_ago=50 - i) for i in range(4))
    make_build(days_ago=20), make_build(days_ago=19)  # the last N
    deploy_row(in_dev, "dev")
    deploy_row(in_prod, "prod", status=Deployment.Status.SUSPENDED)
    Deployment.objects.create(
        component=undeployed.component,
        environment=Environment.objects.create(name="Staging", slug="staging", order=15),
        build=undeployed,
        schedule="@daily",
        status=Deployment.Status.UNDEPLOYED,
    )

    images_prune(now=NOW)

    assert set(removed) == {undeployed.image_ref, old.image_ref}
    assert marked(in_dev, in_prod, undeployed, old) == [False, False, True, True]


def test_recent_builds_are_kept_whatever_their_rank(settings, make_build, removed):
    settings.CHORUS_IMAGE_KEEP_BUILDS = 0
    week_old = make_build(days_ago=8)
    recent = make_build(days_ago=6.9)

    images_prune(now=NOW)

    assert removed == [week_old.image_ref]
    assert marked(week_old, recent) == [True, False]


def test_an_execution_still_running_keeps_its_image(make_build, removed):
    running = make_build(days_ago=60)
    make_build(days_ago=20), make_build(days_ago=19)
    deployment = deploy_row(make_build(days_ago=18), "dev")
    Execution.objects.create(
        deployment=deployment, scheduled_for=NOW, status="running", build=running
    )

    images_prune(now=NOW)

    assert running.image_ref not in removed
    assert marked(running) == [False]


def test_a_ref_shared_with_a_kept_build_is_not_removed(make_build, removed):
    sha = "ab" * 20
    old_twin = make_build(days_ago=60, sha=sha)  # same commit built twice: one ref
    deployed_twin = make_build(days_ago=59, sha=sha)
    deploy_row(deployed_twin, "dev")
    lonely = make_build(days_ago=58)
    make_build(days_ago=20), make_build(days_ago=19)

    summary = images_prune(now=NOW)

    assert removed == [lonely.image_ref]
    assert marked(old_twin, deployed_twin, lonely) == [False, False, True]
    assert [o.ref for o in summary.shared] == [old_twin.image_ref]
    assert any(line.startswith("Kept (a kept build uses it)") for line in summary.lines())


def test_a_ref_shared_only_by_prunable_builds_is_removed_once(make_build, removed):
    sha = "cd" * 20
    twins = [make_build(days_ago=60, sha=sha), make_build(days_ago=59, sha=sha)]
    make_build(days_ago=20), make_build(days_ago=19)

    images_prune(now=NOW)

    assert removed == [twins[0].image_ref]
    assert marked(*twins) == [True, True]


def test_a_rebuild_of_the_same_commit_in_progress_keeps_the_ref(make_build, removed):
    sha = "ef" * 20
    old = make_build(days_ago=60, sha=sha)
    make_build(days_ago=20), make_build(days_ago=19)
    Build.objects.create(component=old.component, commit_sha=sha, preset="python", status="running")

    images_prune(now=NOW)

    assert removed == []
    assert marked(old) == [False]


def test_dry_run_lists_but_removes_and_marks_nothing(make_build, removed):
    old = make_build(days_ago=60)
    make_build(days_ago=20), make_build(days_ago=19)

    summary = images_prune(now=NOW, dry_run=True)

    assert removed == []
    assert marked(old) == [False]
    assert summary.lines()[0].startswith(f"Would remove {old.image_ref}")


def test_management_command_prints_what_it_removes(make_build, removed, capsys):
    old = make_build(days_ago=60)
    make_build(days_ago=20), make_build(days_ago=19)

    call_command("chorus_prune_images", "--dry-run")
    assert f"Would remove {old.image_ref}" in capsys.readouterr().out
    assert removed == []

    call_command("chorus_prune_images")
    out = capsys.readouterr().out
    assert f"Removed {old.image_ref} (record; build #{old.pk})" in out
    assert removed == [old.image_ref]


# --- a runtime that refuses or is down --------------------------------------------------------
def test_an_engine_that_is_down_leaves_the_builds_for_next_time(make_build, monkeypatch):
    old = [make_build(days_ago=60), make_build(days_ago=59)]
    make_build(days_ago=20), make_build(days_ago=19)
    calls: list[str] = []

    def down(self, ref):
        calls.append(ref)
        raise RuntimeUnavailable("Docker engine not reachable at unix:///nowhere (refused).")

    monkeypatch.setattr(RecordRuntime, "remove_image", down)
    summary = images_prune(now=NOW)

    assert marked(*old) == [False, False]
    assert calls == [old[0].image_ref]  # the second ref is not tried against a dead engine
    assert [o.ref for o in summary.left] == [b.image_ref for b in old]
    assert "2 left for next time" in summary.lines()[-1]
    assert any("not reachable" in line for line in summary.lines())


def test_an_image_in_use_is_kept_and_the_build_stays_deployable(make_build, monkeypatch):
    old = make_build(days_ago=60)
    make_build(days_ago=20), make_build(days_ago=19)

    def busy(self, ref):
        raise ImageInUse(f"Kept {ref}: container abc is using its referenced image")

    monkeypatch.setattr(RecordRuntime, "remove_image", busy)
    summary = images_prune(now=NOW)

    assert marked(old) == [False]
    assert "container abc" in summary.left[0].reason


# --- what the user sees afterwards -------------------------------------------------------------
@pytest.fixture
def pruned(make_build, removed) -> Build:
    old = make_build(days_ago=60)
    make_build(days_ago=20), make_build(days_ago=19)
    images_prune(now=NOW)
    old.refresh_from_db()
    assert old.image_removed_at is not None
    return old


def expected_message(build: Build) -> str:
    return (
        f"The image of build #{build.pk} was removed by image clean-up on "
        f"{build.image_removed_at:%Y-%m-%d}; build it again."
    )


def test_deploying_a_pruned_build_says_why(pruned, alice):
    from deployments.deploy.services.lifecycle import deployment_deploy

    with pytest.raises(ValidationError) as exc:
        deployment_deploy(
            component=pruned.component,
            environment=Environment.objects.get(slug="dev"),
            build=pruned,
            schedule="@daily",
            timezone="UTC",
            actor=alice,
        )
    assert exc.value.messages == [expected_message(pruned)]
    event = DeploymentEvent.objects.get(component=pruned.component)
    assert event.outcome == DeploymentEvent.Outcome.FAILED
    assert expected_message(pruned) in event.message


def test_a_stale_build_object_is_still_refused(pruned, alice):
    from deployments.deploy.services.lifecycle import deployment_deploy

    stale = Build.objects.get(pk=pruned.pk)
    stale.image_removed_at = None  # loaded before the clean-up marked it
    with pytest.raises(ValidationError, match="was removed by image clean-up"):
        deployment_deploy(
            component=pruned.component,
            environment=Environment.objects.get(slug="dev"),
            build=stale,
            schedule="@daily",
            timezone="UTC",
            actor=alice,
        )


def test_rolling_back_to_a_pruned_build_says_why(pruned, alice, component):
    from deployments.deploy.services.lifecycle import deployment_deploy, deployment_rollback

    current = Build.objects.filter(image_removed_at__isnull=True).first()
    deployment = deployment_deploy(
        component=component,
        environment=Environment.objects.get(slug="dev"),
        build=current,
        schedule="@daily",
        timezone="UTC",
        actor=alice,
    )
    with pytest.raises(ValidationError) as exc:
        deployment_rollback(deployment=deployment, build=pruned, actor=alice)
    assert exc.value.messages == [expected_message(pruned)]
    assert Deployment.objects.get(pk=deployment.pk).build_id == current.pk


def test_re_running_an_execution_of_a_pruned_build_says_why(pruned, alice, component):
    from deployments.executions.actions import execution_rerun

    current = Build.objects.filter(image_removed_at__isnull=True).first()
    deployment = deploy_row(current, "dev")
    old_run = Execution.objects.create(
        deployment=deployment,
        scheduled_for=NOW - timedelta(days=60),
        status="succeeded",
        build=pruned,
        image_ref=pruned.image_ref,
    )
    with pytest.raises(ValidationError) as exc:
        execution_rerun(execution=old_run, actor=alice)
    assert exc.value.messages == [expected_message(pruned)]
    assert deployment.executions.count() == 1


def test_deploy_view_marks_the_pruned_build(pruned, client_for, alice, component, project):
    page = client_for(alice).get(f"/p/{project.slug}/c/{component.name}/deploy/")
    assert page.status_code == 200
    html = page.content.decode()
    row = html.split(f'data-build="{pruned.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "image removed" in row
    kept = Build.objects.filter(image_removed_at__isnull=True).first()
    kept_row = html.split(f'data-build="{kept.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "image removed" not in kept_row


def test_api_exposes_when_the_image_was_removed(pruned, client_for, alice):
    api = client_for(alice)
    body = api.get(f"/api/v1/builds/{pruned.pk}/").json()
    assert body["image_removed_at"] is not None
    kept = Build.objects.filter(image_removed_at__isnull=True).first()
    assert api.get(f"/api/v1/builds/{kept.pk}/").json()["image_removed_at"] is None


def test_the_prune_task_runs_daily_on_the_chorus_queue(settings, make_build, removed):
    from deployments.builds.tasks import images_prune_task
    from portal.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["chorus.images.prune"]
    assert entry["task"] == "chorus.images.prune"
    assert entry["options"]["queue"] == "chorus"
    assert entry["schedule"].remaining_estimate(NOW) <= timedelta(days=1)
    assert app.tasks["chorus.images.prune"].name == images_prune_task.name
    assert images_prune_task.queue == "chorus"

    old = make_build(days_ago=60)
    make_build(days_ago=20), make_build(days_ago=19)
    result = images_prune_task.apply().get()
    assert result["removed"] == [old.image_ref] and removed == [old.image_ref]


# --- the local runtime deletes only its own image directories ----------------------------------
def test_local_remove_image_deletes_only_image_dirs_inside_its_images_dir(tmp_path):
    images = tmp_path / "images"
    runtime = LocalRuntime(images_dir=images)
    image = images / ("a" * 32)
    (image / "venv").mkdir(parents=True)
    (image / "image.json").write_text("{}")
    outside = tmp_path / ("b" * 32)
    outside.mkdir()
    link = images / ("c" * 32)
    link.symlink_to(outside)

    runtime.remove_image(str(image))
    assert not image.exists()
    runtime.remove_image(str(image))  # already gone: fine

    for bad in (str(outside), str(link), str(images / "runs"), f"{images}/../{'b' * 32}"):
        with pytest.raises(ImageRemoveError):
            runtime.remove_image(bad)
    assert outside.is_dir() and link.is_symlink()


def test_local_remove_image_keeps_an_image_a_task_runs_from(tmp_path):
    images = tmp_path / "images"
    runtime = LocalRuntime(images_dir=images)
    image = images / ("d" * 32)
    image.mkdir(parents=True)
    run_dir = runtime.runs_dir / "local-1"
    run_dir.mkdir(parents=True)
    pid = os.getpid()  # a live process "running" from the image
    (run_dir / "run.json").write_text(
        f'{{"pid": {pid}, "start": "{proc_start_time(pid)}", "image": "{image}"}}'
    )

    with pytest.raises(ImageInUse):
        runtime.remove_image(str(image))
    assert Path(image).is_dir()
