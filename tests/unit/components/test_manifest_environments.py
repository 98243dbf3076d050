"""`[environments.<slug>]` in chorus.toml: what is accepted, and the line and reason of a refusal."""

from __future__ import annotations

import pytest

from components.manifest import ManifestError, parse_manifest

pytestmark = pytest.mark.django_db


def refused(text: str) -> ManifestError:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(text)
    return caught.value


def test_schedule_timezone_and_policies_are_read_per_environment():
    manifest = parse_manifest(
        'entry = "python3 main.py"\n'
        "\n"
        "[environments.dev]\n"
        'schedule = "@every  2s"\n'
        'timezone = "europe/berlin"\n'
        "timeout = 30\n"
        "max_retries = 2\n"
        'concurrency = "forbid"\n'
        'catchup = "latest"\n'
        "\n"
        "[environments.Production]\n"
        'schedule = "0 2 * * *"\n'
    )
    assert manifest.environments == {
        "dev": {
            "schedule": "@every 2s",
            "timezone": "Europe/Berlin",
            "policies": {
                "timeout_seconds": 30,
                "max_retries": 2,
                "concurrency_policy": "forbid",
                "catchup_policy": "latest",
            },
        },
        # Named by the environment's name: kept under its slug; only what the file says.
        "prod": {"schedule": "0 2 * * *"},
    }


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        # A syntax error inside an environment table.
        ('[environments.dev]\nschedule = "@every 2s\n', 2, "not valid TOML"),
        ("[environments.dev]\nschedule = @every\n", 2, "not valid TOML"),
        ("[environments.dev]\ntimeout = [30\n", 2, "not valid TOML: Unclosed array"),
        # Unknown keys: a typo of a policy, an environment that does not exist.
        ('[environments.dev]\nschedule = "@daily"\nretires = 3\n', 3, "unknown key"),
        ('entry = "x"\n[environments.staging]\nschedule = "@daily"\n', 2, "unknown environment"),
        # Schedules the deploy form refuses.
        ('[environments.dev]\nschedule = "61 * * * *"\n', 2, "Invalid minute field"),
        ('[environments.dev]\nschedule = "0 2 * *"\n', 2, "has 4 fields"),
        ('[environments.dev]\nschedule = "@fortnightly"\n', 2, 'Unknown macro "@fortnightly"'),
        ('[environments.dev]\nschedule = "@at 2001-01-01T00:00"\n', 2, "has already passed"),
        ("[environments.dev]\nschedule = 5\n", 2, "must be a string"),
        # A timezone zoneinfo does not know.
        ('[environments.dev]\ntimezone = "Mars/Olympus_Mons"\n', 2, "Unknown timezone"),
        ('[environments.dev]\ntimezone = "Europe/Berln"\n', 2, 'Did you mean "Europe/Berlin"'),
        # Policy values outside POLICY_RULES.
        ("[environments.dev]\n\nretries = 11\n", 3, "Max retries must be between 0 and 10"),
        ('[environments.dev]\ntimeout = "30"\n', 2, "must be a whole number"),
        ("[environments.dev]\ntimeout = 30.5\n", 2, "must be a whole number"),
        ("[environments.dev]\ntimeout = true\n", 2, "must be a whole number"),
        ("[environments.dev]\ntimeout = 999999\n", 2, "maximum run time"),
        ('[environments.dev]\nconcurrency = "sometimes"\n', 2, "must be one of: allow"),
        ("[environments.dev]\ncatchup = 1\n", 2, "must be a string"),
        ("[environments.dev]\ntimeout = 10\ntimeout_seconds = 20\n", 3, "same policy"),
        # Shapes.
        ('environments = "dev"\n', 1, "must be a table"),
        ('[environments]\ndev = "@daily"\n', 2, "must be a table"),
    ],
)
def test_bad_input_is_refused_with_line_and_reason(text, line, reason):
    error = refused(text)
    assert error.line == line, str(error)
    assert reason in str(error)
    assert str(error).startswith(f"chorus.toml line {line}: ")


def test_inline_tables_are_located_too():
    error = refused('[environments]\ndev = { schedule = "@every 2s", retries = -1 }\n')
    assert error.line == 2
    assert "environments.dev.retries: Max retries must be between 0 and 10" in str(error)
