"""Registry images on engines and in the registry: a vanished copy is pulled again by digest,
clean-up deletes the manifests nobody needs (never a deployed one) and survives a registry
that is down; the build page says where an image lives."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from deployments.builds.images import images_prune
from deployments.deploy.services.lifecycle import deployment_deploy
from deployments.executions.actions import execution_run_now
from deployments.executions.run import execution_run
from deployments.models import Build, Execution
from deployments.registry import registry_from_settings
from tests.integration.builds.conftest import log_lines
from tests.support.builds import BUSYBOX_BASE
from tests.support.registry import has_image, remove_image

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.timeout(300)]


def _task(word: str) -> dict[str, str]:
    return {"Dockerfile": f'FROM {BUSYBOX_BASE}\nCMD ["/bin/busybox", "echo", "{word}"]\n'}


def _built(run_build, component, made, repo, word: str, *, days_ago: float = 0) -> Build:
    repo.commit(_task(word))
    build = run_build(component)
    assert build.status == Build.Status.SUCCEEDED, log_lines(build)[-5:]
    made.append(build.image_digest)
    if days_ago:
        finished = timezone.now() - timedelta(days=days_ago)
        Build.objects.filter(pk=build.pk).update(finished_at=finished, queued_at=finished)
    return build


def test_a_run_pulls_its_vanished_image_again_by_digest(
    on_b,
    registry,
    repo,
    make_component,
    run_build,
    bob,
    docker_b,
    django_capture_on_commit_callbacks,
):
    env, made = on_b
    component = make_component(repo, "vanished", preset="dockerfile")
    build = _built(run_build, component, made, repo, "back again")
    with django_capture_on_commit_callbacks(execute=False):
        deployment = deployment_deploy(
            component=component, environment=env, build=build, schedule="@daily", actor=bob
        )
        execution = execution_run_now(deployment=deployment, actor=bob)
    remove_image(docker_b, build.image_digest)  # pruned by hand on the host

    execution_run(execution_id=execution.pk, worker="test@b", due=time.time())

    execution.refresh_from_db()
    text = "\n".join(execution.log_lines.values_list("text", flat=True))
    assert execution.status == Execution.Status.SUCCEEDED, execution.reason
    assert "pulling it by digest" in text and "back again" in text
    assert docker_b.images.get(build.image_ref).id == build.image_digest


def test_clean_up_deletes_unneeded_manifests_and_keeps_the_deployed_one(
    on_b,
    registry,
    repo,
    make_component,
    run_build,
    bob,
    docker_b,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.CHORUS_IMAGE_KEEP_BUILDS = 0
    settings.CHORUS_IMAGE_KEEP_DAYS = 7
    env, made = on_b
    component = make_component(repo, "prune", preset="dockerfile")
    old = _built(run_build, component, made, repo, "old", days_ago=30)
    deployed = _built(run_build, component, made, repo, "deployed", days_ago=20)
    recent = _built(run_build, component, made, repo, "recent")
    with django_capture_on_commit_callbacks(execute=False):
        deployment_deploy(
            component=component, environment=env, build=deployed, schedule="@daily", actor=bob
        )
    api = registry_from_settings()

    summary = images_prune()

    assert [o.ref for o in summary.removed] == [old.image_ref]
    assert not api.manifest_exists(old.image_ref), "the manifest is deleted in the registry"
    assert not has_image(docker_b, old.image_digest), "and the image leaves the engine"
    for kept in (deployed, recent):
        assert api.manifest_exists(kept.image_ref)
        assert has_image(docker_b, kept.image_digest)
    old.refresh_from_db()
    assert old.image_removed_at is not None


def test_clean_up_survives_a_registry_that_is_down(
    on_b, registry, repo, make_component, run_build, settings
):
    settings.CHORUS_IMAGE_KEEP_BUILDS = 0
    settings.CHORUS_IMAGE_KEEP_DAYS = 7
    _, made = on_b
    component = make_component(repo, "prune-down", preset="dockerfile")
    old = _built(run_build, component, made, repo, "old", days_ago=30)
    registry.stop()

    summary = images_prune()

    old.refresh_from_db()
    assert old.image_removed_at is None, "still deployable: the registry still holds it"
    assert summary.removed == []
    assert f"The registry at {registry.host} does not answer" in summary.left[0].reason
    registry.start()
    assert registry_from_settings().manifest_exists(old.image_ref)


def test_the_build_page_says_where_an_image_lives(
    on_b, registry, repo, make_component, run_build, build_settings, client_for, bob
):
    _, made = on_b
    component = make_component(repo, "where", preset="dockerfile")
    pushed = _built(run_build, component, made, repo, "pushed")
    build_settings.CHORUS_REGISTRY = ""
    local_only = _built(run_build, component, made, repo, "local only")

    def page(build: Build) -> str:
        url = f"/p/{component.project.slug}/c/{component.name}/builds/{build.pk}/"
        response = client_for(bob).get(url)
        assert response.status_code == 200
        return response.content.decode()

    assert "lives only on the Docker engine that built it" in page(local_only)
    assert local_only.image_ref == local_only.image_digest
    assert "lives only on" not in page(pushed)
    assert pushed.image_ref.startswith(f"{registry.host}/chorus/payments/where@sha256:")
