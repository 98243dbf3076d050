from __future__ import annotations

import pytest

from portal import crypto
from portal.models import ApiToken
from portal.services import api_token_create

pytestmark = pytest.mark.django_db


def test_token_is_shown_once_and_stored_hashed(alice, client_for):
    c = client_for(alice)
    r = c.post("/account/tokens/", {"name": "ci"})
    token = ApiToken.objects.get(user=alice)
    key = r.context["new_key"]
    assert key.encode() in r.content
    assert token.key_hash == ApiToken.hash_key(key) and key not in token.key_hash
    again = c.get("/account/tokens/")
    assert key.encode() not in again.content


def test_revoked_token_no_longer_authenticates(alice, client):
    token, key = api_token_create(user=alice, name="x")
    from rest_framework.exceptions import AuthenticationFailed
    from rest_framework.test import APIRequestFactory

    from portal.authentication import ApiTokenAuthentication

    req = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {key}")
    user, _ = ApiTokenAuthentication().authenticate(req)
    assert user == alice
    token.revoked_at = token.created_at
    token.save()
    with pytest.raises(AuthenticationFailed):
        ApiTokenAuthentication().authenticate(req)


def test_encrypt_roundtrip_and_ciphertext_hides_value():
    c = crypto.encrypt("s3cret-value")
    assert "s3cret-value" not in c
    assert crypto.decrypt(c) == "s3cret-value"
