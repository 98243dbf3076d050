"""Password guessing, token guessing, API floods, tokens minting tokens, expired tokens.

Each test performs the attack through the real views (Django's test client runs the whole
middleware stack, django-axes included) and shows it refused.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from portal.models import ApiToken
from portal.services import api_token_create
from tests.unit.api.conftest import Api

pytestmark = pytest.mark.django_db


def logged_in(client: Client) -> bool:
    return client.get("/").status_code == 200


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_password_guessing_locks_the_address_out(url, alice, password, settings):
    alice.is_staff = True
    alice.save()
    attacker = Client()
    for guess in range(settings.AXES_FAILURE_LIMIT - 1):
        r = attacker.post(url, {"username": "alice", "password": f"guess-{guess}"})
        assert r.status_code == 200  # the form again, with its error
    r = attacker.post(url, {"username": "alice", "password": "last-guess"})
    assert r.status_code == 429  # the failure that reaches the limit locks the address out
    # Now even the right password is refused from this address, with a page saying why.
    r = attacker.post(url, {"username": "alice", "password": password})
    assert r.status_code == 429
    assert "Too many failed logins" in r.content.decode()
    assert "paused for 15 minutes" in r.content.decode()
    assert not logged_in(attacker)


def test_a_success_before_the_limit_resets_the_count(alice, password, settings):
    c = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        c.post("/login/", {"username": "alice", "password": "nope"})
    assert c.post("/login/", {"username": "alice", "password": password}).status_code == 302
    assert logged_in(c)


def test_token_guessing_is_throttled_per_address(alice, settings):
    settings.CHORUS_API_AUTH_FAILURE_LIMIT = 5
    _, key = api_token_create(user=alice, name="real")
    for n in range(5):
        r = Api(key=f"chorus_guess{n}").get("projects/")
        assert r.status_code == 401
    # The next guess is not even looked at, and a real token from that address waits too.
    r = Api(key="chorus_guess-next").get("projects/")
    assert r.status_code == 429
    r = Api(key=key).get("projects/")
    assert r.status_code == 429
    assert "Too many failed authentications" in r.json()["error"]["message"]


def test_the_api_is_rate_limited_per_user(alice, bob, settings):
    settings.CHORUS_API_USER_RATE = "5/minute"
    api = Api(alice)
    assert [api.get("projects/").status_code for _ in range(5)] == [200] * 5
    r = api.get("projects/")
    assert r.status_code == 429 and r.json()["error"]["code"] == "throttled"
    assert Api(bob).get("projects/").status_code == 200  # another user has their own count


def test_a_token_alone_cannot_mint_tokens(alice):
    """A stolen token must die with its revocation: it cannot make itself successors."""
    stolen, key = api_token_create(user=alice, name="stolen")
    r = Api(key=key).post("tokens/create/", {"name": "backdoor"})
    assert r.status_code == 403
    assert "A token cannot create tokens on its own" in r.json()["error"]["message"]
    r = Api(key=key).post("tokens/create/", {"name": "backdoor", "password": "guessed"})
    assert r.status_code == 403 and "password is not right" in r.json()["error"]["message"]
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["stolen"]
    stolen.revoked_at = timezone.now()
    stolen.save()
    assert Api(key=key).get("projects/").status_code == 401


def test_password_guesses_through_the_api_count_towards_the_lockout(alice, password, settings):
    _, key = api_token_create(user=alice, name="stolen")
    api = Api(key=key)
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        assert api.post("tokens/create/", {"name": "x", "password": f"g{n}"}).status_code == 403
    assert api.post("tokens/create/", {"name": "x", "password": "last"}).status_code == 429
    r = api.post("tokens/create/", {"name": "x", "password": password})
    assert r.status_code == 429 and r.json()["error"]["code"] == "locked_out"
    assert ApiToken.objects.count() == 1


def test_the_owner_still_makes_tokens_with_the_password_or_a_session(alice, password):
    _, key = api_token_create(user=alice, name="cli")
    r = Api(key=key).post("tokens/create/", {"name": "ci", "password": password})
    assert r.status_code == 201 and r.json()["key"].startswith("chorus_")
    browser = Client()
    browser.force_login(alice)
    r = browser.post(
        "/api/v1/tokens/create/", {"name": "from-browser"}, content_type="application/json"
    )
    assert r.status_code == 201
    r = browser.post("/account/tokens/", {"name": "from-page", "expires_in_days": "7"})
    assert r.status_code == 200 and "chorus_" in r.content.decode()
    page_token = ApiToken.objects.get(name="from-page")
    assert timedelta(days=6) < page_token.expires_at - timezone.now() <= timedelta(days=7)


def test_token_creation_has_its_own_rate(alice, password, settings):
    settings.CHORUS_API_TOKEN_CREATE_RATE = "2/hour"
    _, key = api_token_create(user=alice, name="cli")
    api = Api(key=key)
    for n in range(2):
        assert (
            api.post("tokens/create/", {"name": f"t{n}", "password": password}).status_code == 201
        )
    assert api.post("tokens/create/", {"name": "t3", "password": password}).status_code == 429


def test_an_expired_token_is_refused(alice, password):
    r = Api(alice).post(
        "tokens/create/", {"name": "short", "expires_in_days": 1, "password": password}
    )
    assert r.status_code == 201
    body = r.json()
    assert body["expires_at"] and body["is_active"] is True
    assert Api(key=body["key"]).get("projects/").status_code == 200
    ApiToken.objects.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    r = Api(key=body["key"]).get("projects/")
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]
    listed = Api(alice).get("tokens/").json()["results"]
    assert next(t for t in listed if t["id"] == body["id"])["is_active"] is False
    r = Api(alice).post("tokens/create/", {"name": "x", "expires_in_days": 0, "password": password})
    assert r.status_code == 400 and "expires_in_days" in r.json()["error"]["fields"]
