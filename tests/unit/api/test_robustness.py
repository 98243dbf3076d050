"""Never a 500: every operation fed malformed bodies, wrong types and odd query strings
answers with a 4xx and the one error body."""

from __future__ import annotations

import pytest

from .schema_check import generated_schema

pytestmark = pytest.mark.django_db

BAD_BODIES = [
    "{",
    "[]",
    "null",
    "42",
    '"text"',
    '{"unknown": 1}',
    '{"name": ["a"], "key": {"x": 1}, "value": [1], "schedule": 5, "timezone": null}',
    '{"build": "abc", "payload": {"a": 1}, "policies": "fast", "channel": -1}',
    '{"build": 99999999999999999999999, "threshold": 1e400, "environment": 3}',
    '{"name": "a\\u0000b", "key": "A\\u0000", "value": "\\u0000", "role": "\\u0000"}',
    '{"schedule": "' + "*" * 5000 + '", "timezone": "' + "x" * 5000 + '"}',
]
ODD_QUERIES = [
    {"limit": "abc", "offset": "-5"},
    {"after": "99999999999999999999", "limit": "0"},
    {"status": "\x00", "environment": "\x00", "kind": "x" * 3000},
    {"scheduled_after": "2026-13-45", "channel": "x"},
]


def _paths(world):
    for template, item in generated_schema()["paths"].items():
        path = template
        for key, value in world.items():
            path = path.replace("{" + key + "}", str(value))
        assert "{" not in path, path
        for method in item:
            yield method, path


def test_no_operation_answers_500(apis, world):
    owner = apis["owner"]
    seen = 0
    for method, path in _paths(world):
        if method == "post":
            for raw in BAD_BODIES:
                r = owner.post(path, raw=raw)
                assert r.status_code < 500, (path, raw, r.content[:300])
                if r.status_code >= 400:
                    assert set(r.json()) == {"error"}, (path, raw, r.content[:300])
                seen += 1
        else:
            for params in ODD_QUERIES:
                r = owner.get(path, params)
                assert r.status_code < 500, (path, params, r.content[:300])
                seen += 1
    assert seen > 300


@pytest.mark.parametrize(
    "path",
    [
        "projects/payments/members/%00/remove/",
        "projects/payments/components/nightly/deployments/%00/suspend/",
        "builds/%00/",
        "projects/payments/members/" + "x" * 5000 + "/update/",
    ],
)
def test_odd_path_segments_are_404_or_400_for_a_nul_byte(apis, world, path):
    r = apis["owner"].post(path)
    expected = (400, "invalid") if "%00" in path else (404, "not_found")
    assert (r.status_code, r.json()["error"]["code"]) == expected


def test_wrong_method_and_media_type_are_4xx_with_the_error_body(apis, world):
    r = apis["owner"].client.put("/api/v1/projects/create/", {}, format="json")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    r = apis["owner"].client.post("/api/v1/projects/create/", "name=x", content_type="text/plain")
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"
