"""Projects and members through the API: same rules as the HTML views."""

from __future__ import annotations

import pytest

from .conftest import error_code

pytestmark = pytest.mark.django_db


def test_anonymous_and_bad_tokens_get_401_with_one_error_body(api, project):
    r = api().get("projects/")
    assert r.status_code == 401
    assert error_code(r) == "not_authenticated"
    from tests.unit.api.conftest import Api

    r = Api(key="chorus_not-a-real-token").get("projects/")
    assert r.status_code == 401
    assert error_code(r) == "authentication_failed"


def test_revoked_token_stops_working(api, alice, project):
    from portal.services import api_token_create, api_token_revoke
    from tests.unit.api.conftest import Api

    token, key = api_token_create(user=alice, name="ci")
    assert Api(key=key).get("projects/").status_code == 200
    api_token_revoke(token=token, actor=alice)
    assert Api(key=key).get("projects/").status_code == 401


def test_projects_list_shows_only_mine_with_my_role(apis, project):
    r = apis["developer"].get("projects/")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 1
    assert body["results"][0]["slug"] == "payments"
    assert body["results"][0]["role"] == "developer"
    assert apis["outsider"].get("projects/").json()["count"] == 0


def test_projects_list_paginates(api, alice):
    from portal.services import project_create

    for i in range(5):
        project_create(name=f"Project {i}", actor=alice)
    r = api(alice).get("projects/", {"limit": 2, "offset": 2})
    body = r.json()
    assert body["count"] == 5
    assert [p["name"] for p in body["results"]] == ["Project 2", "Project 3"]
    assert body["next"] and body["previous"]


def test_project_create_makes_me_owner(api, dave):
    r = api(dave).post("projects/create/", {"name": "Data Team", "description": "ETL"})
    assert r.status_code == 201, r.content
    assert r.json()["slug"] == "data-team"
    assert r.json()["role"] == "owner"
    assert api(dave).get("projects/data-team/").status_code == 200


@pytest.mark.parametrize(
    "payload,field",
    [({}, "name"), ({"name": "  "}, "name"), ({"name": "X", "colour": "red"}, "colour")],
)
def test_project_create_rejects_bad_input_with_field_errors(api, dave, payload, field):
    r = api(dave).post("projects/create/", payload)
    assert r.status_code == 400
    assert error_code(r) == "invalid"
    assert field in r.json()["error"]["fields"]


def test_project_create_duplicate_name_is_400(api, alice, project):
    r = api(alice).post("projects/create/", {"name": "Payments"})
    assert r.status_code == 400
    assert "already exists" in r.json()["error"]["message"]


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", "null", '"text"'])
def test_malformed_json_is_400_never_500(api, dave, raw):
    r = api(dave).post("projects/create/", raw=raw)
    assert r.status_code == 400
    assert error_code(r) in ("parse_error", "invalid")


@pytest.mark.parametrize(
    "role,status", [("owner", 200), ("developer", 200), ("viewer", 200), ("outsider", 404)]
)
def test_project_detail_and_members_matrix(apis, project, role, status):
    assert apis[role].get("projects/payments/").status_code == status
    r = apis[role].get("projects/payments/members/")
    assert r.status_code == status
    if status == 200:
        members = {m["username"]: m["role"] for m in r.json()["results"]}
        assert members == {"alice": "owner", "bob": "developer", "carol": "viewer"}
    else:
        assert error_code(r) == "not_found"


def test_unknown_project_is_404_like_foreign_one(apis, project):
    r = apis["owner"].get("projects/nope/")
    assert r.status_code == 404
    assert error_code(r) == "not_found"


@pytest.mark.parametrize(
    "role,status", [("owner", 201), ("developer", 403), ("viewer", 403), ("outsider", 404)]
)
def test_member_add_matrix(apis, project, make_user, role, status):
    make_user("erin")
    r = apis[role].post("projects/payments/members/add/", {"username": "erin", "role": "viewer"})
    assert r.status_code == status, r.content
    if status == 201:
        assert r.json() == {
            "username": "erin",
            "role": "viewer",
            "created_at": r.json()["created_at"],
        }
    elif status == 403:
        assert error_code(r) == "permission_denied"
        assert "owner role" in r.json()["error"]["message"]


def test_member_add_unknown_user_and_bad_role(apis, project):
    r = apis["owner"].post("projects/payments/members/add/", {"username": "ghost"})
    assert r.status_code == 400 and "username" in r.json()["error"]["fields"]
    r = apis["owner"].post("projects/payments/members/add/", {"username": "dave", "role": "god"})
    assert r.status_code == 400 and "role" in r.json()["error"]["fields"]


@pytest.mark.parametrize(
    "role,status", [("owner", 200), ("developer", 403), ("viewer", 403), ("outsider", 404)]
)
def test_member_update_matrix(apis, project, role, status):
    r = apis[role].post("projects/payments/members/carol/update/", {"role": "developer"})
    assert r.status_code == status
    from portal.models import Membership

    expected = "developer" if status == 200 else "viewer"
    assert Membership.objects.get(project=project, user__username="carol").role == expected


@pytest.mark.parametrize(
    "role,status", [("owner", 204), ("developer", 403), ("viewer", 403), ("outsider", 404)]
)
def test_member_remove_matrix(apis, project, role, status):
    r = apis[role].post("projects/payments/members/carol/remove/")
    assert r.status_code == status
    from portal.models import Membership

    assert Membership.objects.filter(project=project, user__username="carol").exists() == (
        status != 204
    )


def test_last_owner_cannot_leave(apis, project):
    r = apis["owner"].post("projects/payments/members/alice/remove/")
    assert r.status_code == 400
    assert "at least one owner" in r.json()["error"]["message"]
    r = apis["owner"].post("projects/payments/members/nobody/remove/")
    assert r.status_code == 404
