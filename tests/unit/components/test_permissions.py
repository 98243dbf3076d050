"""The permission matrix of every component view: owner / developer / viewer / outsider."""

from __future__ import annotations

import pytest
from django.urls import reverse

from components.models import Component, GitHubConnection
from portal import crypto

pytestmark = pytest.mark.django_db

ROLES = ["owner", "developer", "viewer", "outsider"]


def urls(project, component):
    p, n = project.slug, component.name
    return {
        "list": reverse("component_list", args=[p]),
        "detail": reverse("component_detail", args=[p, n]),
        "github": reverse("github_connections", args=[p]),
        "new": reverse("component_create", args=[p]),
        "edit": reverse("component_edit", args=[p, n]),
        "delete": reverse("component_delete", args=[p, n]),
        "secret": reverse("component_webhook_secret", args=[p, n]),
    }


READ = {"owner": 200, "developer": 200, "viewer": 200, "outsider": 404}
WRITE = {"owner": 200, "developer": 200, "viewer": 403, "outsider": 404}


@pytest.mark.parametrize("view", ["list", "detail", "github"])
@pytest.mark.parametrize("role", ROLES)
def test_read_pages(view, role, project, sample_component, users_by_role, client_for):
    r = client_for(users_by_role[role]).get(urls(project, sample_component)[view])
    assert r.status_code == READ[role]
    if r.status_code == 200:
        assert project.name.encode() in r.content or b"cleanup" in r.content


@pytest.mark.parametrize("view", ["new", "edit", "delete", "secret"])
@pytest.mark.parametrize("role", ROLES)
def test_write_pages(view, role, project, sample_component, users_by_role, client_for):
    r = client_for(users_by_role[role]).get(urls(project, sample_component)[view])
    assert r.status_code == WRITE[role]
    if r.status_code == 403:
        assert b"developer role" in r.content


def test_anonymous_goes_to_login(project, sample_component, client):
    for url in urls(project, sample_component).values():
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith("/login/"), url


def test_list_shows_edit_controls_only_to_developers(
    project, sample_component, users_by_role, client_for
):
    new = reverse("component_create", args=[project.slug]).encode()
    assert (
        new
        in client_for(users_by_role["developer"])
        .get(reverse("component_list", args=[project.slug]))
        .content
    )
    viewer_page = client_for(users_by_role["viewer"]).get(
        reverse("component_list", args=[project.slug])
    )
    assert b"cleanup" in viewer_page.content and new not in viewer_page.content


def test_secret_is_never_in_the_detail_page(project, sample_component, alice, client_for):
    secret = crypto.decrypt(sample_component.webhook_secret_encrypted)
    assert len(secret) >= 32
    page = client_for(alice).get(reverse("component_detail", args=[project.slug, "cleanup"]))
    assert secret.encode() not in page.content
    revealed = client_for(alice).get(
        reverse("component_webhook_secret", args=[project.slug, "cleanup"]), HTTP_HX_REQUEST="true"
    )
    assert secret.encode() in revealed.content


@pytest.mark.parametrize(
    "role,expected", [("owner", 302), ("developer", 302), ("viewer", 403), ("outsider", 404)]
)
def test_delete_post(role, expected, project, sample_component, users_by_role, client_for):
    r = client_for(users_by_role[role]).post(
        reverse("component_delete", args=[project.slug, "cleanup"]), {"confirm_name": "cleanup"}
    )
    assert r.status_code == expected
    assert Component.objects.filter(pk=sample_component.pk).exists() == (expected != 302)


def test_delete_needs_the_name_typed(project, sample_component, alice, client_for):
    r = client_for(alice).post(
        reverse("component_delete", args=[project.slug, "cleanup"]), {"confirm_name": "nope"}
    )
    assert r.status_code == 200 and "Type “cleanup” to delete it".encode() in r.content
    assert Component.objects.filter(pk=sample_component.pk).exists()


@pytest.mark.parametrize(
    "role,expected", [("owner", 302), ("developer", 302), ("viewer", 403), ("outsider", 404)]
)
def test_edit_post(role, expected, project, sample_component, users_by_role, client_for):
    r = client_for(users_by_role[role]).post(
        reverse("component_edit", args=[project.slug, "cleanup"]),
        {"description": "changed", "auto_build": "on"},
    )
    assert r.status_code == expected
    sample_component.refresh_from_db()
    assert (sample_component.description == "changed") == (expected == 302)


@pytest.mark.parametrize(
    "role,expected", [("owner", 302), ("developer", 302), ("viewer", 403), ("outsider", 404)]
)
def test_rotate_secret(role, expected, project, sample_component, users_by_role, client_for):
    before = sample_component.webhook_secret_encrypted
    r = client_for(users_by_role[role]).post(
        reverse("component_webhook_secret_rotate", args=[project.slug, "cleanup"])
    )
    assert r.status_code == expected
    sample_component.refresh_from_db()
    assert (sample_component.webhook_secret_encrypted != before) == (expected == 302)


@pytest.mark.parametrize(
    "role,expected", [("owner", 200), ("developer", 200), ("viewer", 403), ("outsider", 404)]
)
def test_wizard_post(role, expected, project, users_by_role, client_for):
    r = client_for(users_by_role[role]).post(
        reverse("component_create", args=[project.slug]), {"step": "source", "kind": "sample"}
    )
    assert r.status_code == expected


@pytest.mark.parametrize(
    "role,expected", [("owner", 302), ("developer", 302), ("viewer", 403), ("outsider", 404)]
)
def test_disconnect_github(role, expected, project, alice, users_by_role, client_for):
    conn = GitHubConnection.objects.create(
        project=project,
        base_url="https://api.github.com",
        login="octo",
        token_encrypted=crypto.encrypt("t"),
        created_by=alice,
    )
    r = client_for(users_by_role[role]).post(
        reverse("github_connection_delete", args=[project.slug, conn.pk])
    )
    assert r.status_code == expected
    assert GitHubConnection.objects.filter(pk=conn.pk).exists() == (expected != 302)


def test_viewer_cannot_connect_github(project, carol, client_for):
    r = client_for(carol).post(
        reverse("github_connections", args=[project.slug]),
        {"token": "x", "base_url": "https://api.github.com"},
    )
    assert r.status_code == 403
    assert not GitHubConnection.objects.exists()


def test_other_projects_connection_is_404(project, alice, make_user, client_for):
    from portal.services import project_create

    erin = make_user("erin")
    other = project_create(name="Other", description="", actor=erin)
    conn = GitHubConnection.objects.create(
        project=other, base_url="https://api.github.com", login="x", token_encrypted="x"
    )
    r = client_for(alice).post(reverse("github_connection_delete", args=[project.slug, conn.pk]))
    assert r.status_code == 404
    assert GitHubConnection.objects.filter(pk=conn.pk).exists()


@pytest.mark.parametrize("role, status", [("owner", 200), ("developer", 403)])
def test_only_an_owner_lets_a_component_run_as_root(
    role, status, project, sample_component, users_by_role, client_for
):
    url = reverse("api:component_update", args=[project.slug, sample_component.name])
    r = client_for(users_by_role[role]).post(
        url, {"run_as_root": True}, content_type="application/json"
    )
    assert r.status_code == status, r.content
    sample_component.refresh_from_db()
    assert sample_component.run_as_root is (role == "owner")
    if role == "owner":
        assert r.json()["run_as_root"] is True


@pytest.mark.parametrize("role, shown", [("owner", True), ("developer", False)])
def test_the_run_as_root_switch_is_offered_to_owners_only(
    role, shown, project, sample_component, users_by_role, client_for
):
    client = client_for(users_by_role[role])
    url = urls(project, sample_component)["edit"]
    assert (b'name="run_as_root"' in client.get(url).content) is shown
    # A developer's form post cannot carry it either: the field is not part of their form.
    client.post(url, {"description": "edited", "run_as_root": "on"})
    sample_component.refresh_from_db()
    assert sample_component.description == "edited"
    assert sample_component.run_as_root is shown
