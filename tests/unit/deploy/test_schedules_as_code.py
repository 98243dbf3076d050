"""Schedules as code: chorus.toml's [environments.<slug>] applied by builds and promotions, and
read-only elsewhere while the component is managed by the repository."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from deployments.deploy.services.lifecycle import (
    deployment_apply_repository,
    deployment_deploy,
    deployment_promote,
)
from deployments.deploy.services.state import deployment_update_policies
from deployments.models import Deployment, DeploymentEvent

pytestmark = pytest.mark.django_db


def file_says(**environments) -> dict:
    """A Build.manifest as the build stores it."""
    return {"environments": environments}


@pytest.fixture
def managed(component):
    component.managed_by_repository = True  # the switch itself: tests/unit/api/
    component.save(update_fields=["managed_by_repository"])
    return component


@pytest.fixture
def deployed(managed, dev, make_build, bob):
    """Development runs a build whose file declares its schedule and timeout."""
    build = make_build(
        manifest=file_says(dev={"schedule": "@every 2s", "policies": {"timeout_seconds": 30}})
    )
    return deployment_deploy(
        component=managed, environment=dev, build=build, schedule="", timezone=None, actor=bob
    )


def interval_of(deployment) -> int:
    deployment.periodic_task.refresh_from_db()
    return deployment.periodic_task.interval.every


def test_a_first_deploy_takes_the_files_settings_and_marks_them(deployed):
    assert (deployed.schedule, deployed.timezone, deployed.timeout_seconds) == (
        "@every 2s",
        "UTC",
        30,
    )
    assert deployed.managed == ["schedule", "timeout_seconds"]
    assert deployed.managed_commit == deployed.build.commit_sha
    assert interval_of(deployed) == 2


def test_a_direct_change_of_a_managed_field_is_refused_and_changes_nothing(deployed, dev, bob):
    with pytest.raises(ValidationError) as caught:
        deployment_deploy(
            component=deployed.component,
            environment=dev,
            build=deployed.build,
            schedule="@every 5s",
            actor=bob,
        )
    message = " ".join(caught.value.messages)
    assert "The schedule (@every 2s) of Development is managed by chorus.toml" in message
    assert deployed.build.short_sha in message
    assert "Edit the file and push, or turn off “Managed by the repository”" in message
    with pytest.raises(ValidationError, match="Timeout \\(seconds\\) \\(30\\) of Development"):
        deployment_update_policies(deployment=deployed, actor=bob, policies={"timeout_seconds": 60})
    d = Deployment.objects.get(pk=deployed.pk)
    assert (d.schedule, d.timeout_seconds) == ("@every 2s", 30)
    assert interval_of(d) == 2
    refused = DeploymentEvent.objects.filter(outcome="failed").values_list("message", flat=True)
    assert any("managed by chorus.toml" in m for m in refused)


def test_fields_the_file_does_not_set_stay_editable(deployed, bob):
    d = deployment_update_policies(
        deployment=deployed, actor=bob, policies={"max_retries": 3, "timeout_seconds": 30}
    )
    assert (d.max_retries, d.timeout_seconds) == (3, 30)


def test_a_build_of_a_new_commit_reschedules_development(deployed, make_build):
    newer = make_build(
        manifest=file_says(dev={"schedule": "@every 3s", "policies": {"timeout_seconds": 45}})
    )
    d, said = deployment_apply_repository(build=newer)
    assert said == "applied to Development: schedule, timeout_seconds"
    d.refresh_from_db()
    # The deployed build stays; the schedule and timeout follow the file; beat follows too.
    assert d.build_id == deployed.build_id
    assert (d.schedule, d.timeout_seconds) == ("@every 3s", 45)
    assert d.managed_commit == newer.commit_sha
    assert interval_of(d) == 3
    event = DeploymentEvent.objects.filter(deployment=d).order_by("-id").first()
    assert event.kind == DeploymentEvent.Kind.SCHEDULE and event.actor is None
    assert f"Applied chorus.toml at {newer.short_sha} (build #{newer.pk})" in event.message
    assert 'schedule "@every 2s" → "@every 3s"' in event.message


def test_an_older_build_finishing_late_does_not_undo_a_newer_file(deployed, make_build):
    older = make_build(manifest=file_says(dev={"schedule": "@every 9s"}))
    newer = make_build(manifest=file_says(dev={"schedule": "@every 3s"}))
    deployment_apply_repository(build=newer)
    d, said = deployment_apply_repository(build=older)
    assert d is None and "newer build" in said
    assert Deployment.objects.get(pk=deployed.pk).schedule == "@every 3s"


def test_a_file_that_stops_declaring_an_environment_hands_its_fields_back(deployed, make_build):
    deployment_apply_repository(build=make_build(manifest={}))
    d = Deployment.objects.get(pk=deployed.pk)
    assert d.managed == [] and d.schedule == "@every 2s"


def test_unmanaged_components_ignore_the_file(component, dev, make_build, bob):
    build = make_build(manifest=file_says(dev={"schedule": "@every 2s"}))
    d = deployment_deploy(
        component=component, environment=dev, build=build, schedule="@daily", actor=bob
    )
    assert d.schedule == "@daily" and d.managed == []
    assert deployment_apply_repository(build=make_build(manifest=file_says())) == (None, "")


def test_promotion_applies_the_promoted_builds_production_settings(deployed, dev, prod, alice, ran):
    deployed.build.manifest = file_says(
        dev={"schedule": "@every 2s"},
        prod={"schedule": "0 3 * * *", "timezone": "Europe/Berlin", "policies": {"max_retries": 2}},
    )
    deployed.build.save()
    ran(deployed)
    with pytest.raises(ValidationError, match="The schedule \\(0 3 \\* \\* \\*\\) of Production"):
        deployment_promote(
            component=deployed.component,
            source_env=dev,
            target_env=prod,
            schedule="@hourly",
            actor=alice,
        )
    assert not Deployment.objects.filter(environment=prod).exists()
    p = deployment_promote(
        component=deployed.component, source_env=dev, target_env=prod, actor=alice
    )
    assert (p.schedule, p.timezone, p.max_retries) == ("0 3 * * *", "Europe/Berlin", 2)
    assert p.managed == ["schedule", "timezone", "max_retries"]
    assert p.managed_commit == deployed.build.commit_sha
    assert str(p.periodic_task.crontab.timezone) == "Europe/Berlin"
    event = DeploymentEvent.objects.filter(deployment=p, kind="promote").get()
    assert f"with the settings of chorus.toml at {deployed.build.short_sha}" in event.message


# --- the pages --------------------------------------------------------------------------------
def page(client, component, tail="deploy/"):
    return client.get(f"/p/{component.project.slug}/c/{component.name}/{tail}")


def test_the_deploy_page_shows_managed_fields_read_only(client_for, bob, deployed):
    r = page(client_for(bob), deployed.component)
    html = r.content.decode()
    assert r.status_code == 200
    assert (
        f'<code>chorus.toml</code> at commit <code class="managed-commit">'
        f"{deployed.build.short_sha}</code>: Schedule, Timeout (seconds)."
    ) in html
    assert "30 (chorus.toml)" in html  # the policy list marks the managed timeout
    form = r.context["rows"][0].deploy_form
    assert form.fields["schedule"].disabled and form.fields["timeout_seconds"].disabled
    assert not form.fields["timezone"].disabled and not form.fields["max_retries"].disabled


def test_a_posted_managed_policy_is_ignored_by_the_form(client_for, bob, deployed):
    c = client_for(bob)
    r = page(c, deployed.component, "env/dev/policies/")
    assert "Managed by chorus.toml at" in r.content.decode()
    r = c.post(
        f"/p/{deployed.component.project.slug}/c/{deployed.component.name}/env/dev/policies/",
        {"timeout_seconds": 99, "max_retries": 4},
    )
    assert r.status_code == 302
    d = Deployment.objects.get(pk=deployed.pk)
    assert (d.timeout_seconds, d.max_retries) == (30, 4)
