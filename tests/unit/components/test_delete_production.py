"""Deleting a component that Production holds needs an owner, like undeploying Production.

The attack: a developer (who may not undeploy Production) deletes the whole component through
the page or the API, and with it the Production deployment, its secrets and its history.
"""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from components.models import Component
from deployments.deploy.services.config import config_set
from deployments.deploy.services.lifecycle import deployment_deploy
from deployments.deploy.services.state import deployment_undeploy
from deployments.models import ConfigVar, Deployment, Environment, Execution
from tests.support.factories import sample_component, succeeded_build
from tests.unit.api.conftest import Api

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_production(project, alice):
    component = sample_component(project, "nightly-report", created_by=alice)
    build = succeeded_build(component)
    dev, prod = Environment.objects.get(slug="dev"), Environment.objects.get(slug="prod")
    in_dev = deployment_deploy(
        component=component, environment=dev, build=build, schedule="0 2 * * *", actor=alice
    )
    now = timezone.now()
    Execution.objects.create(  # it ran in Development, so Production may run it
        deployment=in_dev,
        scheduled_for=now,
        trigger=Execution.Trigger.MANUAL,
        status=Execution.Status.SUCCEEDED,
        finished_at=now,
        exit_code=0,
        build=build,
        image_ref=build.image_ref,
        image_digest=build.image_digest,
        config_revision=in_dev.config_revision,
    )
    deployment = deployment_deploy(
        component=component, environment=prod, build=build, schedule="0 3 * * *", actor=alice
    )
    config_set(
        component=component,
        environment=prod,
        key="DB_PASSWORD",
        value="prod-only-secret",
        is_secret=True,
        actor=alice,
    )
    return component, deployment


def delete_page(component) -> str:
    return f"/p/{component.project.slug}/c/{component.name}/delete/"


def assert_untouched(component, deployment):
    assert Component.objects.filter(pk=component.pk).exists()
    assert Deployment.objects.get(pk=deployment.pk).status == Deployment.Status.ACTIVE
    assert PeriodicTask.objects.filter(pk=deployment.periodic_task_id, enabled=True).exists()
    assert ConfigVar.objects.filter(component=component, key="DB_PASSWORD").exists()


def test_developer_cannot_delete_through_the_page(in_production, bob, client_for):
    component, deployment = in_production
    c = client_for(bob)
    page = c.get(delete_page(component))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Only project owners can delete it" in html and "Production" in html
    assert 'name="confirm_name"' not in html  # no form to fill
    # Posting anyway (a hand-made request) is refused, with nothing deleted.
    r = c.post(delete_page(component), {"confirm_name": component.name})
    assert r.status_code == 403
    assert "Only project owners can delete a component deployed or configured in Production" in (
        r.content.decode()
    )
    assert_untouched(component, deployment)


def test_developer_cannot_delete_through_the_api(in_production, bob):
    component, deployment = in_production
    r = Api(bob).post(f"projects/{component.project.slug}/components/{component.name}/delete/")
    assert r.status_code == 403
    assert "Only project owners" in r.json()["error"]["message"]
    assert_untouched(component, deployment)


def test_undeployed_production_still_needs_an_owner(in_production, alice, bob, client_for):
    """Undeployed, the row keeps Production's history and secrets: deleting still removes them."""
    component, deployment = in_production
    deployment_undeploy(deployment=deployment, actor=alice)
    r = client_for(bob).post(delete_page(component), {"confirm_name": component.name})
    assert r.status_code == 403
    assert Deployment.objects.filter(pk=deployment.pk).exists()


def test_owner_deletes_through_the_page(in_production, alice, client_for):
    component, deployment = in_production
    r = client_for(alice).post(delete_page(component), {"confirm_name": component.name})
    assert r.status_code == 302
    assert not Component.objects.filter(pk=component.pk).exists()
    assert not Deployment.objects.filter(pk=deployment.pk).exists()
    assert not PeriodicTask.objects.filter(pk=deployment.periodic_task_id).exists()
    assert not ConfigVar.objects.filter(key="DB_PASSWORD").exists()


def test_owner_deletes_through_the_api(in_production, alice):
    component, deployment = in_production
    r = Api(alice).post(f"projects/{component.project.slug}/components/{component.name}/delete/")
    assert r.status_code == 204
    assert not Component.objects.filter(pk=component.pk).exists()
    assert not PeriodicTask.objects.filter(pk=deployment.periodic_task_id).exists()


def test_developer_still_deletes_a_development_only_component(project, alice, bob, client_for):
    component = sample_component(project, "scratch", created_by=alice)
    dev = Environment.objects.get(slug="dev")
    deployment_deploy(
        component=component,
        environment=dev,
        build=succeeded_build(component),
        schedule="*/5 * * * *",
        actor=bob,
    )
    r = client_for(bob).post(delete_page(component), {"confirm_name": component.name})
    assert r.status_code == 302
    assert not Component.objects.filter(pk=component.pk).exists()
