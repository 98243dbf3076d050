"""The permission matrix of every project view: owner / developer / viewer / outsider."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.models import Membership, Project

pytestmark = pytest.mark.django_db

# (url name, method, {role: expected status})
READ_VIEWS = ["project_detail", "project_members", "project_settings"]


@pytest.mark.parametrize("view", READ_VIEWS)
@pytest.mark.parametrize(
    "role,expected", [("owner", 200), ("developer", 200), ("viewer", 200), ("outsider", 404)]
)
def test_read_views(view, role, expected, project, users_by_role, client_for):
    c = client_for(users_by_role[role])
    r = c.get(reverse(view, args=[project.slug]))
    assert r.status_code == expected
    if expected == 200:
        assert project.name.encode() in r.content


@pytest.mark.parametrize("view", READ_VIEWS + ["project_delete"])
def test_anonymous_is_sent_to_login(view, project, client):
    r = client.get(reverse(view, args=[project.slug]))
    assert r.status_code == 302 and r["Location"].startswith("/login/")


@pytest.mark.parametrize(
    "role,expected", [("owner", 302), ("developer", 403), ("viewer", 403), ("outsider", 404)]
)
def test_settings_update(role, expected, project, users_by_role, client_for):
    c = client_for(users_by_role[role])
    r = c.post(
        reverse("project_settings", args=[project.slug]), {"name": "Renamed", "description": ""}
    )
    assert r.status_code == expected
    project.refresh_from_db()
    assert (project.name == "Renamed") == (expected == 302)
    if expected == 403:
        assert b"owner role" in r.content


@pytest.mark.parametrize(
    "role,expected", [("owner", 302), ("developer", 403), ("viewer", 403), ("outsider", 404)]
)
def test_add_member(role, expected, project, users_by_role, client_for, make_user):
    make_user("erin")
    c = client_for(users_by_role[role])
    r = c.post(
        reverse("project_members", args=[project.slug]), {"username": "erin", "role": "viewer"}
    )
    assert r.status_code == expected
    assert Membership.objects.filter(project=project, user__username="erin").exists() == (
        expected == 302
    )


@pytest.mark.parametrize(
    "role,expected", [("owner", 302), ("developer", 403), ("viewer", 403), ("outsider", 404)]
)
def test_change_member_role(role, expected, project, users_by_role, client_for, carol):
    m = Membership.objects.get(project=project, user=carol)
    c = client_for(users_by_role[role])
    r = c.post(
        reverse("project_member_update", args=[project.slug, m.id]),
        {"action": "role", "role": "developer"},
    )
    assert r.status_code == expected
    m.refresh_from_db()
    assert (m.role == "developer") == (expected == 302)


@pytest.mark.parametrize(
    "role,expected", [("owner", 302), ("developer", 403), ("viewer", 403), ("outsider", 404)]
)
def test_delete_project(role, expected, project, users_by_role, client_for):
    c = client_for(users_by_role[role])
    r = c.post(reverse("project_delete", args=[project.slug]), {"confirm_name": project.slug})
    assert r.status_code == expected
    assert Project.objects.filter(pk=project.pk).exists() == (expected != 302)


def test_delete_needs_confirmation(project, alice, client_for):
    c = client_for(alice)
    r = c.post(
        reverse("project_delete", args=[project.slug]), {"confirm_name": "nope"}, follow=True
    )
    assert Project.objects.filter(pk=project.pk).exists()
    assert b"Type the project" in r.content


def test_last_owner_cannot_be_demoted(project, alice, client_for):
    m = Membership.objects.get(project=project, user=alice)
    c = client_for(alice)
    r = c.post(
        reverse("project_member_update", args=[project.slug, m.id]),
        {"action": "role", "role": "viewer"},
        follow=True,
    )
    m.refresh_from_db()
    assert m.role == "owner"
    assert b"at least one owner" in r.content


def test_outsider_does_not_see_project_in_switcher(project, dave, client_for):
    r = client_for(dave).get(reverse("home"))
    assert project.name.encode() not in r.content
    assert b"No projects yet" in r.content


def test_create_project_makes_creator_owner(dave, client_for):
    r = client_for(dave).post(reverse("project_create"), {"name": "Reports", "description": ""})
    assert r.status_code == 302
    p = Project.objects.get(slug="reports")
    assert Membership.objects.get(project=p, user=dave).role == "owner"


def test_duplicate_project_name_is_a_form_error(project, alice, client_for):
    r = client_for(alice).post(reverse("project_create"), {"name": "Payments"})
    assert r.status_code == 200
    assert b"already exists" in r.content


def test_deleting_a_project_stops_its_schedules(project, alice, client_for):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from components.models import Component
    from deployments.models import Build, Deployment, Environment

    comp = Component.objects.create(
        project=project,
        name="nightly",
        source_kind="sample",
        sample_key="health-check",
        preset="dockerfile",
    )
    build = Build.objects.create(
        component=comp, commit_sha="a" * 40, preset="dockerfile", status="succeeded"
    )
    every = IntervalSchedule.objects.create(every=60, period=IntervalSchedule.SECONDS)
    task = PeriodicTask.objects.create(
        name="chorus:deployment:x", task="chorus.execution.tick", interval=every
    )
    Deployment.objects.create(
        component=comp,
        environment=Environment.objects.get(slug="dev"),
        build=build,
        schedule="@every 60s",
        periodic_task=task,
    )
    r = client_for(alice).post(
        reverse("project_delete", args=[project.slug]), {"confirm_name": project.slug}
    )
    assert r.status_code == 302
    assert not Project.objects.filter(pk=project.pk).exists()
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()
