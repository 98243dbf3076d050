"""API token management: the secret once at creation, never in a list, revocation works."""

from __future__ import annotations

import pytest

from .conftest import Api, body_text, error_code

pytestmark = pytest.mark.django_db


def test_token_create_returns_key_once_and_it_works(api, alice, password):
    me = api(alice)
    r = me.post("tokens/create/", {"name": "laptop", "password": password})
    assert r.status_code == 201
    key = r.json()["key"]
    assert key.startswith("chorus_")
    assert r.json()["prefix"] == key[: len(r.json()["prefix"])]
    listed = me.get("tokens/")
    assert listed.status_code == 200
    names = [t["name"] for t in listed.json()["results"]]
    assert "laptop" in names
    assert key not in body_text(listed)
    assert all("key" not in t for t in listed.json()["results"])
    assert Api(key=key).get("projects/").status_code == 200


def test_token_create_needs_a_name(api, alice):
    r = api(alice).post("tokens/create/", {})
    assert r.status_code == 400 and "name" in r.json()["error"]["fields"]


def test_token_revoke_own_only(api, alice, bob, password):
    r = api(alice).post("tokens/create/", {"name": "ci", "password": password})
    token_id, key = r.json()["id"], r.json()["key"]
    # Someone else's token id is not revealed.
    r = api(bob).post(f"tokens/{token_id}/revoke/")
    assert r.status_code == 404 and error_code(r) == "not_found"
    assert Api(key=key).get("tokens/").status_code == 200
    r = api(alice).post(f"tokens/{token_id}/revoke/")
    assert r.status_code == 200
    assert r.json()["is_active"] is False and r.json()["revoked_at"]
    assert Api(key=key).get("tokens/").status_code == 401


def test_huge_ids_are_404_not_500(api, alice):
    r = api(alice).post("tokens/99999999999999999999999/revoke/")
    assert r.status_code == 404 and error_code(r) == "not_found"
    r = api(alice).get("no-such-endpoint/")
    assert r.status_code == 404 and error_code(r) == "not_found"
