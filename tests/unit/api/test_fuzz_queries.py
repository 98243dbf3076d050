"""Fuzzed query strings: every query parameter of every API list endpoint (as the OpenAPI
schema declares them, plus the pagination's) fed out-of-range numbers, negative limits, huge
ids, NUL bytes and bytes that are not UTF-8. None may answer 5xx; a value the schema's type
or range refuses answers 400 with the error body naming the parameter."""

from __future__ import annotations

from datetime import datetime

import pytest

from .conftest import error_code
from .schema_check import generated_schema

pytestmark = pytest.mark.django_db

# Raw (already percent-encoded) values, so bytes that are not UTF-8 reach the server as such.
NASTY = {
    "overflow": "-5.4e295",
    "float_huge": "1e400",
    "negative": "-465",
    "huge_id": "99999999999999999999999",
    "bigint_plus_one": "9223372036854775808",
    "nan": "nan",
    "inf": "inf",
    "nul": "a%00b",
    "not_utf8": "%FF%FE",
    "long": "x" * 3000,
    "empty": "",
}


def _list_operations(world):
    for template, item in generated_schema()["paths"].items():
        op = item.get("get")
        if op is None:
            continue
        path = template
        for key, value in world.items():
            path = path.replace("{" + key + "}", str(value))
        query = [p for p in op.get("parameters", []) if p["in"] == "query"]
        if query:
            yield path, query


def _refused_by_schema(schema: dict, raw: str) -> bool | None:
    """True when the declared type and range cannot accept the raw value (None: an empty
    value, which a list may take as "no filter" or refuse)."""
    kind = schema.get("type")
    if kind == "array":
        schema = schema.get("items", {})
        kind = schema.get("type")
    if "%00" in raw or "%FF" in raw:
        return True
    if raw == "":
        return None
    if kind == "integer":
        try:
            value = int(raw)
        except ValueError:
            return True
        return not (schema.get("minimum", -(2**63)) <= value <= schema.get("maximum", 2**63 - 1))
    if "enum" in schema:
        return raw not in schema["enum"]
    if schema.get("format") == "date-time":
        try:
            datetime.fromisoformat(raw)
        except ValueError:
            return True
        return False
    # Free text (a slug, a cron expression): the operation itself may find it wrong.
    return None if kind == "string" else False


def test_no_query_parameter_of_any_list_endpoint_answers_5xx(apis, world):
    owner = apis["owner"].client
    checked = set()
    for path, params in _list_operations(world):
        for param in params:
            for label, raw in NASTY.items():
                r = owner.get(f"{path}?{param['name']}={raw}")
                where = (path, param["name"], label, r.status_code, r.content[:300])
                assert r.status_code < 500, where
                refused = _refused_by_schema(param["schema"], raw)
                if refused:
                    assert r.status_code == 400, where
                    assert error_code(r) == "invalid", where
                    assert r.json()["error"]["message"], where
                elif refused is False:
                    assert r.status_code == 200, where
                checked.add((path, param["name"]))
    names = {name for _, name in checked}
    # Every list is paged, and the filters are fuzzed too.
    assert {"limit", "offset", "channel", "status", "environment"} <= names
    assert len(checked) > 30


def test_the_reported_overflow_is_a_400_naming_the_parameter(apis, world):
    deliveries = "/api/v1/projects/payments/alerts/deliveries/"
    r = apis["owner"].client.get(f"{deliveries}?channel=-5.4e295&limit=-465")
    assert r.status_code == 400, r.content
    assert r.json()["error"]["message"] == "limit: Must be a whole number from 1 to 500."
    r = apis["owner"].client.get(f"{deliveries}?channel=-5.4e295")
    assert r.status_code == 400, r.content
    assert r.json()["error"]["fields"] == {"channel": ["Enter a whole number."]}


def test_the_schema_states_the_accepted_ranges():
    op = generated_schema()["paths"]["/api/v1/projects/{project}/alerts/deliveries/"]["get"]
    params = {p["name"]: p["schema"] for p in op["parameters"] if p["in"] == "query"}
    assert params["limit"]["type"] == "integer" and params["limit"]["minimum"] == 1
    assert params["limit"]["maximum"] >= 100
    assert params["offset"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": params["offset"]["maximum"],
    }
    assert params["channel"]["type"] == "integer" and params["channel"]["minimum"] == 1
    assert params["channel"]["maximum"] == 2**63 - 1
