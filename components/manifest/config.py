"""`[config.KEY]` tables of chorus.toml: the settings a task declares (its config contract).

    [config.SESSIONS_URL]
    description = "Where the JSON session list is"
    required = true                  # must be set in an environment before deploy / promote
    default = "demo-sessions.json"   # optional keys: the value runs get unless it is set;
                                     # required keys: the value the deploy form suggests
    secret = false                   # true: asked for as a password, stored encrypted
    type = "string"                  # string (default), int, bool, url, json

The JSON kept on the build (`Build.manifest["config"]`) is stable, one object per key:

    {"KEY": {"description": str, "required": bool, "default": str | None,
             "secret": bool, "type": "string|int|bool|url|json", "order": int}}

`default` is already the text the task's environment variable gets (`30`, `true`, `{"a": 1}`),
or null when none is declared; `order` is the key's place in the file (JSON objects stored in
PostgreSQL lose their key order). `value_error` checks a value set later against its type.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

TYPES = ("string", "int", "bool", "url", "json")
FIELDS = ("description", "required", "default", "secret", "type")
MAX_SETTINGS = 200
MAX_DESCRIPTION = 500
BOOL_WORDS = {"true", "false", "1", "0", "yes", "no", "on", "off"}
INT_RE = re.compile(r"^[+-]?\d{1,18}$")
SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")


def value_error(value: str, kind: str) -> str:
    """Why `value` (an environment variable's text) is not a `kind`; "" when it is."""
    text = value.strip()
    if kind == "int":
        if not INT_RE.match(text):
            return f"must be a whole number (e.g. 30), got “{value[:40]}”"
    elif kind == "bool":
        if text.lower() not in BOOL_WORDS:
            return f"must be true or false (or 1/0, yes/no, on/off), got “{value[:40]}”"
    elif kind == "url":
        scheme, sep, rest = text.partition("://")
        if not sep or not SCHEME_RE.match(scheme) or not rest:
            return f"must be an absolute URL such as https://example.com/path, got “{value[:60]}”"
        if scheme.lower() in ("http", "https") and not urlsplit(text).hostname:
            return f"must name a host after {scheme}://, got “{value[:60]}”"
    elif kind == "json":
        try:
            json.loads(value)
        except ValueError as exc:
            return f"must be valid JSON ({exc.args[0] if exc.args else exc})"
    return ""


def _default_text(raw: Any, kind: str) -> str | None:
    """The environment variable text of a TOML default, or None when it does not fit `kind`."""
    if kind == "json":
        if isinstance(raw, str):
            return raw if not value_error(raw, "json") else None
        try:
            return json.dumps(raw, default=str)
        except (TypeError, ValueError):
            return None
    if kind == "bool":
        if isinstance(raw, bool):
            return "true" if raw else "false"
        return raw if isinstance(raw, str) and not value_error(raw, "bool") else None
    if kind == "int":
        if isinstance(raw, int) and not isinstance(raw, bool):
            return str(raw)
        return raw if isinstance(raw, str) and not value_error(raw, "int") else None
    if not isinstance(raw, str):
        return None
    if kind == "url" and value_error(raw, "url"):
        return None
    return raw


def _key_error(key: str) -> str:
    from django.core.exceptions import ValidationError

    from deployments.deploy.services.config import validate_key

    try:
        validate_key(key)
    except ValidationError as exc:
        return " ".join(exc.message_dict.get("key", exc.messages))
    return ""


def parse_config(data: Any, where) -> dict[str, dict[str, Any]]:
    """Validated declarations, keyed by setting name; ManifestError on a bad one."""
    from components.manifest import ManifestError

    if not isinstance(data, dict):
        raise ManifestError("“config” must be a table of settings", where.key("config"))
    if len(data) > MAX_SETTINGS:
        raise ManifestError(
            f"declares {len(data)} settings; at most {MAX_SETTINGS}", where.table("config")
        )
    out: dict[str, dict[str, Any]] = {}
    for order, (key, spec) in enumerate(data.items()):
        line = where.table("config", key) or where.key("config", key)
        problem = _key_error(key)
        if problem:
            raise ManifestError(f"config.{key[:100]}: {problem}", line)
        if not isinstance(spec, dict):
            raise ManifestError(
                f"config.{key} must be a table: [config.{key}] with description, required "
                "or default, secret and type",
                line,
            )
        out[key] = _declaration(key, spec, order, where)
    return out


def _declaration(key: str, spec: dict, order: int, where) -> dict[str, Any]:
    from components.manifest import ManifestError

    def at(name: str) -> int | None:
        return where.key("config", key, name)

    for name in spec:
        if name not in FIELDS:
            raise ManifestError(
                f"config.{key}: unknown field “{name}” (known: {', '.join(FIELDS)})", at(name)
            )
    description = spec.get("description", "")
    if not isinstance(description, str):
        raise ManifestError(f"config.{key}: “description” must be text", at("description"))
    if len(description) > MAX_DESCRIPTION:
        raise ManifestError(
            f"config.{key}: “description” is longer than {MAX_DESCRIPTION} characters",
            at("description"),
        )
    for flag in ("required", "secret"):
        if flag in spec and not isinstance(spec[flag], bool):
            raise ManifestError(
                f"config.{key}: “{flag}” must be true or false (no quotes)", at(flag)
            )
    kind = spec.get("type", "string")
    if kind not in TYPES:
        raise ManifestError(
            f"config.{key}: unknown type “{kind}” (known: {', '.join(TYPES)})", at("type")
        )
    required = bool(spec.get("required", False))
    secret = bool(spec.get("secret", False))
    default = None
    if "default" in spec:
        if secret:
            what = "a required secret" if required else "a secret"
            raise ManifestError(
                f"config.{key}: {what} cannot have a default: its value would be in the "
                "repository for anyone to read. Remove the default and set it per environment",
                at("default"),
            )
        default = _default_text(spec["default"], kind)
        if default is None:
            shown = json.dumps(spec["default"], default=str)[:60]
            hint = (
                f' (quote it, "{spec["default"]}", or declare type = "int" / "bool")'
                if kind == "string" and "type" not in spec
                else ""
            )
            raise ManifestError(
                f"config.{key}: the default {shown} is not a valid {kind}{hint}", at("default")
            )
        if len(default.encode()) > 32 * 1024:
            raise ManifestError(f"config.{key}: the default is larger than 32 KB", at("default"))
    return {
        "description": description.strip(),
        "required": required,
        "default": default,
        "secret": secret,
        "type": kind,
        "order": order,
    }


def config_defaults(manifest: dict | None) -> dict[str, str]:
    """{key: default} of the declarations in a build's manifest JSON that have a default."""
    declared = (manifest or {}).get("config") or {}
    return {
        key: spec["default"]
        for key, spec in declared.items()
        if isinstance(spec, dict) and spec.get("default") is not None and not spec.get("secret")
    }
