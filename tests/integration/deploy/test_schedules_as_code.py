"""Schedules as code, end to end: a push that changes chorus.toml's Development schedule
rebuilds and re-schedules, and a real beat fires on the new schedule; a push of an invalid
file fails its build with the line and reason and changes nothing deployed.

Real parts: a git repository, the push webhook, a Celery worker building with the Docker
engine, beat with Chorus's scheduler writing one Execution row per tick.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from components.models import Component
from components.webhooks import signature_for
from deployments.deploy.services.lifecycle import deployment_deploy
from deployments.models import Build, Deployment, DeploymentEvent, Environment, Execution
from portal import crypto
from tests.support.builds import BUSYBOX_BASE, PYTHON_BASE, ensure_base_images, remove_images
from tests.support.gitrepos import BareRepo
from tests.support.processes import flush_broker, running, start_beat, start_worker

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DOCKERFILE = f'FROM {BUSYBOX_BASE}\nCMD ["true"]\n'


def toml(schedule: str, tz: str = "UTC") -> str:
    return (
        "# The task's schedule lives here (schedules as code).\n"
        "[environments.dev]\n"
        f'schedule = "{schedule}"\n'
        f'timezone = "{tz}"\n'
        "retries = 1\n"
    )


def push(client, repo: BareRepo, component: Component) -> int:
    """Deliver a signed GitHub push of main; the id of the build it queued."""
    body = json.dumps(
        {
            "ref": "refs/heads/main",
            "after": repo.head("main"),
            "repository": {"full_name": "octo/tasks", "default_branch": "main"},
        }
    ).encode()
    secret = crypto.decrypt(component.webhook_secret_encrypted)
    r = client.post(
        reverse("github_webhook"),
        data=body,
        content_type="application/json",
        HTTP_X_GITHUB_EVENT="push",
        HTTP_X_GITHUB_DELIVERY=str(uuid.uuid4()),
        HTTP_X_HUB_SIGNATURE_256=signature_for(secret, body),
    )
    assert r.status_code == 202, r.content
    return r.json()["queued"][0]["build"]


def finished(build_id: int, worker, timeout: float = 180) -> Build:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        build = Build.objects.get(pk=build_id)
        if build.status not in Build.ACTIVE:
            return build
        time.sleep(0.5)
    raise AssertionError(f"build {build_id} did not finish:\n{worker.output()[-3000:]}")


def ticks(deployment, since) -> list:
    return list(
        Execution.objects.filter(
            deployment=deployment, trigger="schedule", scheduled_for__gte=since
        )
        .order_by("scheduled_for")
        .values_list("scheduled_for", flat=True)
    )


def wait_ticks(deployment, since, n: int, beat, timeout: float = 40) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = ticks(deployment, since)
        if len(found) >= n:
            return found
        time.sleep(0.3)
    raise AssertionError(
        f"{len(ticks(deployment, since))} ticks since {since}, expected {n}:\n"
        f"{beat.output()[-3000:]}"
    )


def spacing(found: list) -> set[float]:
    return {(b - a).total_seconds() for a, b in zip(found, found[1:], strict=False)}


def log_text(build: Build) -> str:
    return "\n".join(build.log_lines.order_by("seq").values_list("text", flat=True))


def test_a_push_reschedules_development_and_an_invalid_file_changes_nothing(
    client, project, alice, bob, tmp_path
):
    ensure_base_images()
    repo = BareRepo.create(tmp_path / "octo" / "tasks.git")
    repo.commit({"Dockerfile": DOCKERFILE, "chorus.toml": toml("@every 2s")}, message="first")
    component = Component.objects.create(
        project=project,
        name="tasks",
        source_kind=Component.SourceKind.GIT,
        git_url=repo.url,
        branch="main",
        preset=Component.Preset.DOCKERFILE,
        auto_build=True,
        managed_by_repository=True,
        webhook_secret_encrypted=crypto.encrypt("s3cret-" + uuid.uuid4().hex),
        created_by=alice,
    )
    dev = Environment.objects.get(slug="dev")
    flush_broker()
    worker_env = {
        "CHORUS_DEFAULT_RUNTIME": "docker",
        "CHORUS_PYTHON_BASE_IMAGE": PYTHON_BASE,
        "CHORUS_BUILD_DIR": str(tmp_path / "builds"),
    }
    with running(
        lambda: start_worker("sac-builds", concurrency=1, queues="builds", extra_env=worker_env),
    ) as (worker,):
        first = finished(push(client, repo, component), worker)
        assert first.status == Build.Status.SUCCEEDED, log_text(first)[-2000:]
        # The first deploy takes the file's schedule: none is given here.
        d = deployment_deploy(
            component=component, environment=dev, build=first, schedule="", actor=bob
        )
        assert (d.schedule, d.max_retries, d.managed_commit) == ("@every 2s", 1, first.commit_sha)

        beat = start_beat("beat-schedules-as-code")
        try:
            old = wait_ticks(d, timezone.now(), 3, beat)
            assert spacing(old[-3:]) == {2.0}

            # A push that changes the Development schedule: rebuilt, re-scheduled.
            repo.commit({"chorus.toml": toml("@every 3s")}, message="every 3 seconds")
            second = finished(push(client, repo, component), worker)
            assert second.status == Build.Status.SUCCEEDED, log_text(second)[-2000:]
            assert "chorus.toml (managed by the repository): applied to Development" in (
                log_text(second)
            )
            d.refresh_from_db()
            assert (d.schedule, d.managed_commit) == ("@every 3s", second.commit_sha)
            assert d.build_id == first.pk  # the settings moved; the running image did not
            event = DeploymentEvent.objects.filter(deployment=d, kind="schedule").latest("id")
            assert f"Applied chorus.toml at {second.short_sha}" in event.message
            changed = timezone.now()
            new = wait_ticks(d, changed, 7, beat)
            # Beat fires on the new schedule: ticks 3 seconds apart, none on the old grid once
            # the first one on the new grid came (ticks dispatched ahead of the change, a
            # second or two, stay on the old one).
            first_new = next(
                i
                for i, (a, b) in enumerate(zip(new, new[1:], strict=False))
                if (b - a).total_seconds() == 3
            )
            assert first_new <= 2, new
            assert spacing(new[first_new:]) == {3.0}, new

            # A push with an invalid file: the build fails with the line; nothing changes.
            repo.commit(
                {"chorus.toml": toml("@every 1s", tz="Mars/Olympus_Mons")}, message="bad zone"
            )
            third = finished(push(client, repo, component), worker)
            assert third.status == Build.Status.FAILED
            assert third.error.startswith("chorus.toml line 4: environments.dev.timezone: ")
            assert 'Unknown timezone "Mars/Olympus_Mons"' in third.error
            assert "chorus.toml line 4" in log_text(third)
            d = Deployment.objects.get(pk=d.pk)
            assert (d.schedule, d.timezone, d.managed_commit) == (
                "@every 3s",
                "UTC",
                second.commit_sha,
            )
            after = timezone.now()
            still = wait_ticks(d, after, 3, beat)
            assert spacing(still) == {3.0}, still
        finally:
            beat.stop()
            remove_images(
                list(Build.objects.filter(component=component).values_list("image_ref", flat=True))
            )
