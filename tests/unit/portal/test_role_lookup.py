"""A page reads the viewer's membership once (project, role and buttons from one query), and a
membership changed through the services is what the next check sees."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.models import Membership
from portal.roles import Role
from portal.selectors import project_get_for_user, project_role
from portal.services import membership_change_role
from tests.support.obs import make_component, make_deployment, make_execution

pytestmark = pytest.mark.django_db


def membership_reads(ctx) -> int:
    return sum(bool(re.search(r'FROM "portal_membership"', q["sql"])) for q in ctx.captured_queries)


@pytest.mark.parametrize(
    "page",
    ["", "executions/", "c/nightly/executions/", "c/nightly/dashboard/", "executions/{e}/"],
)
def test_a_page_reads_the_membership_once(client_for, carol, project, page):
    e = make_execution(make_deployment(make_component(project, "nightly")), "running")
    c = client_for(carol)
    url = f"/p/{project.slug}/{page.format(e=e.pk)}"
    with CaptureQueriesContext(connection) as ctx:
        r = c.get(url)
    assert r.status_code == 200
    assert membership_reads(ctx) == 1
    assert "Cancel…" not in r.content.decode()  # still a viewer's page


def test_a_role_changed_by_the_services_is_seen_at_once(alice, bob, project):
    project = project_get_for_user(user=alice, slug=project.slug)
    assert project_role(user=alice, project=project) == Role.OWNER
    Membership.objects.filter(project=project, user=bob).update(role=Role.OWNER)
    mine = Membership.objects.get(project=project, user=alice)
    mine.project = project
    membership_change_role(membership=mine, actor=alice, role=Role.VIEWER)
    assert project_role(user=alice, project=project) == Role.VIEWER
    # Someone else's role is never answered from the viewer's.
    assert project_role(user=bob, project=project) == Role.OWNER
