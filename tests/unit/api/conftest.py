"""API test helpers: a DRF client authenticated by a real API token per user."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient


class Api:
    """Calls /api/v1/… with a bearer token; every response is checked to be JSON (or 204)."""

    def __init__(self, user=None, *, key: str | None = None):
        self.client = APIClient()
        if user is not None:
            from portal.services import api_token_create

            _, key = api_token_create(user=user, name="tests")
        if key:
            self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        self.user = user
        self.responses = []

    def _url(self, path: str) -> str:
        return path if path.startswith("/api/") else "/api/v1/" + path.lstrip("/")

    def _record(self, response):
        self.responses.append(response)
        return response

    def get(self, path, params=None):
        return self._record(self.client.get(self._url(path), params or {}))

    def post(self, path, data=None, *, raw: str | None = None):
        if raw is not None:
            return self._record(
                self.client.post(self._url(path), raw, content_type="application/json")
            )
        return self._record(self.client.post(self._url(path), data or {}, format="json"))


@pytest.fixture
def api():
    """api(user) → an Api for that user (a fresh token); api() → anonymous."""
    return lambda user=None: Api(user)


@pytest.fixture
def apis(api, users_by_role):
    return {role: api(user) for role, user in users_by_role.items()}


def error_code(response) -> str:
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["message"], body
    return body["error"]["code"]


def body_text(response) -> str:
    content = getattr(response, "content", b"")
    try:
        return json.dumps(response.json())
    except Exception:  # noqa: BLE001 - a non-JSON body is compared as text
        return content.decode(errors="replace")
