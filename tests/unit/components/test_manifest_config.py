"""chorus.toml's [config.KEY] tables: the declarations a build keeps, and every refusal with the
line and reason the build log shows."""

from __future__ import annotations

import pytest

from components.manifest import ManifestError, parse_manifest
from components.manifest.config import config_defaults, value_error

GOOD = """\
entry = "python3 main.py"

[config.SESSIONS_URL]
description = "Where the session list is"
required = true
default = "demo-sessions.json"

[config.TIMEOUT_MINUTES]
type = "int"
default = 30

[config.DRY_RUN]
type = "bool"
default = false

[config.API_TOKEN]
secret = true
required = true

[config.OPTIONS]
type = "json"
default = { region = "eu", retries = 2 }

[config.WEBHOOK]
type = "url"
"""


def refusal(text: str) -> ManifestError:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text)
    return caught.value


def test_declarations_keep_their_fields_order_and_defaults_as_environment_text():
    manifest = parse_manifest(GOOD)
    config = manifest.config
    assert list(config) == [
        "SESSIONS_URL",
        "TIMEOUT_MINUTES",
        "DRY_RUN",
        "API_TOKEN",
        "OPTIONS",
        "WEBHOOK",
    ]
    assert config["SESSIONS_URL"] == {
        "description": "Where the session list is",
        "required": True,
        "default": "demo-sessions.json",
        "secret": False,
        "type": "string",
        "order": 0,
    }
    assert config["TIMEOUT_MINUTES"]["default"] == "30"
    assert config["DRY_RUN"]["default"] == "false"
    assert config["API_TOKEN"] == {
        "description": "",
        "required": True,
        "default": None,
        "secret": True,
        "type": "string",
        "order": 3,
    }
    assert config["OPTIONS"]["default"] == '{"region": "eu", "retries": 2}'
    assert config["WEBHOOK"]["default"] is None
    # What runs get when nothing is set: the defaults, never a secret.
    assert config_defaults(manifest.to_json()) == {
        "SESSIONS_URL": "demo-sessions.json",
        "TIMEOUT_MINUTES": "30",
        "DRY_RUN": "false",
        "OPTIONS": '{"region": "eu", "retries": 2}',
    }


def test_a_syntax_error_in_a_config_table_names_its_line():
    err = refusal('entry = "x"\n\n[config.A]\nrequired = tru\n')
    assert err.line == 4
    assert "not valid TOML" in str(err)


def test_an_unknown_field_is_refused_by_name_and_line():
    err = refusal('[config.API_URL]\ndescription = "x"\nrequird = true\n')
    assert err.line == 3
    assert "config.API_URL: unknown field “requird”" in str(err)
    assert "known: description, required, default, secret, type" in str(err)


def test_a_required_secret_with_a_default_is_refused_at_the_default():
    err = refusal('[config.TOKEN]\nsecret = true\nrequired = true\ndefault = "hunter2"\n')
    assert err.line == 4
    assert "a required secret cannot have a default" in str(err)
    assert "hunter2" not in str(err)


def test_any_secret_default_is_refused():
    err = refusal('[config.TOKEN]\nsecret = true\ndefault = "x"\n')
    assert "a secret cannot have a default" in str(err)


@pytest.mark.parametrize(
    ("table", "line", "reason"),
    [
        ('type = "int"\ndefault = "thirty"', 3, 'the default "thirty" is not a valid int'),
        ('type = "bool"\ndefault = "maybe"', 3, 'the default "maybe" is not a valid bool'),
        ('type = "url"\ndefault = "not a url"', 3, "is not a valid url"),
        ('type = "url"\ndefault = "https://"', 3, "is not a valid url"),
        ('type = "json"\ndefault = "{oops"', 3, "is not a valid json"),
        ("default = 30", 2, 'quote it, "30", or declare type = "int"'),
        ('type = "float"', 2, "unknown type “float” (known: string, int, bool, url, json)"),
        ('required = "yes"', 2, "“required” must be true or false"),
        ("secret = 1", 2, "“secret” must be true or false"),
        ("description = 5", 2, "“description” must be text"),
    ],
)
def test_bad_types_and_defaults_are_refused_with_their_line(table, line, reason):
    err = refusal(f"[config.SETTING]\n{table}\n")
    assert err.line == line, str(err)
    assert reason in str(err)


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("1ST", "is not a valid variable name"),
        ("HAS-DASH", "is not a valid variable name"),
        ("CHORUS_PAYLOAD", "Names starting with CHORUS_ are set by Chorus"),
    ],
)
def test_key_names_follow_the_config_key_rule(key, reason):
    err = refusal(f'entry = "x"\n\n[config."{key}"]\nrequired = true\n')
    assert err.line == 3
    assert reason in str(err)


def test_a_setting_that_is_not_a_table_is_refused():
    err = refusal('[config]\nAPI_URL = "https://x"\n')
    assert err.line == 2
    assert "config.API_URL must be a table" in str(err)
    err = refusal('config = "everything"\n')
    assert "“config” must be a table of settings" in str(err)


def test_inline_tables_are_read_too():
    manifest = parse_manifest('[config]\nAPI_URL = { type = "url", required = true }\n')
    assert manifest.config["API_URL"]["required"] is True
    err = refusal('[config]\nAPI_URL = { type = "url", default = "nope" }\n')
    assert err.line == 2


@pytest.mark.parametrize(
    ("value", "kind", "ok"),
    [
        ("42", "int", True),
        ("-7", "int", True),
        ("4.2", "int", False),
        ("yes", "bool", True),
        ("TRUE", "bool", True),
        ("maybe", "bool", False),
        ("https://example.com/x", "url", True),
        ("sqlite:///data/app.db", "url", True),
        ("example.com", "url", False),
        ('{"a": [1]}', "json", True),
        ("{a: 1}", "json", False),
        ("anything", "string", True),
    ],
)
def test_values_are_checked_against_their_type(value, kind, ok):
    assert (value_error(value, kind) == "") is ok
