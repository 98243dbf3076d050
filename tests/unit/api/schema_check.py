"""Validate real API responses against the generated OpenAPI schema (jsonschema).

The schema is drf-spectacular's, generated from the code. OpenAPI 3.0 is not quite JSON
Schema: `nullable` is turned into a null alternative, and every object that lists its
properties is closed (`additionalProperties: false`), so a field the API returns but the
schema does not declare fails the check just like a missing or mistyped one.
"""

from __future__ import annotations

import copy
import re
from functools import cache

import jsonschema


@cache
def generated_schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _convert(node):
    if isinstance(node, list):
        return [_convert(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _convert(v) for k, v in node.items()}
    if node.get("type") == "object" and "properties" in node:
        node.setdefault("additionalProperties", False)
    if node.pop("nullable", False):
        if "enum" in node and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]
        if "type" in node:
            node["type"] = [node["type"], "null"]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


@cache
def _components() -> dict:
    return _convert(copy.deepcopy(generated_schema()["components"]))


@cache
def _operations() -> list[tuple[re.Pattern, str, str, dict]]:
    ops = []
    for path, item in generated_schema()["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                ops.append((pattern, path, method, op))
    return ops


def operation_for(path: str, method: str) -> tuple[str, dict]:
    matches = [
        (template, op)
        for pattern, template, m, op in _operations()
        if m == method.lower() and pattern.match(path)
    ]
    assert matches, f"{method} {path} is not in the schema"
    # A literal segment ("create") wins over a parameter.
    matches.sort(key=lambda t: t[0].count("{"))
    return matches[0]


def validate_response(response) -> str:
    """Check one test-client response against its operation; return "METHOD template STATUS"."""
    path = response.request["PATH_INFO"]
    method = response.request["REQUEST_METHOD"]
    template, op = operation_for(path, method)
    status = str(response.status_code)
    documented = op["responses"]
    assert status in documented, (
        f"{method} {template} answered {status}, the schema documents {sorted(documented)}"
    )
    content = documented[status].get("content")
    if not content:
        assert not response.content, f"{method} {template} {status} has a body the schema lacks"
        return f"{method} {template} {status}"
    schema = content["application/json"]["schema"]
    root = {**_convert(copy.deepcopy(schema)), "components": _components()}
    try:
        jsonschema.validate(response.json(), root, cls=jsonschema.Draft202012Validator)
    except jsonschema.ValidationError as exc:
        raise AssertionError(
            f"{method} {path} ({template}) {status} does not match the schema: {exc.message} "
            f"at {list(exc.absolute_path)}"
        ) from None
    return f"{method} {template} {status}"


def all_operations() -> set[str]:
    return {f"{m.upper()} {t}" for _, t, m, _ in _operations()}
