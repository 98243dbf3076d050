"""Every sample succeeds when run with no configuration at all, on demo input it ships or makes,
and its log says that it did so and which settings point it at real data."""

from __future__ import annotations

import re

import pytest

from components.samples import SAMPLES

from ._support import run_sample

CONTEXT = {"CHORUS_EXECUTION_ID": "9", "CHORUS_SCHEDULED_AT": "2024-05-01T10:00:00+00:00"}

# What each demo run logs: the notice naming the settings, then a result a user recognises.
EXPECTED = {
    "session-timeout-logger": (
        "SESSIONS_URL is not set: checking the bundled demo session list",
        r"Checked 3 sessions at 2024-05-01T10:00:00\+00:00: 1 timed out, 2 active",
    ),
    "data-cleanup": (
        "DATABASE_URL and CLEANUP_TABLE are not set: cleaning a demo SQLite database",
        r"Deleted 4 rows from events in 1 batch",
    ),
    "github-issues-summary": (
        "GITHUB_REPOSITORY and CHAT_WEBHOOK_URL are not set: summarising the bundled demo counts",
        r"Issues in octocat/hello-world \(demo\): 12 open, 30 closed \(42 total\)",
    ),
    "health-check": (
        "HEALTHCHECK_URL is not set: checking a demo endpoint this task serves itself",
        r"Healthy: http://127\.0\.0\.1:\d+/health answered 200 in \d+ ms",
    ),
}


def test_every_sample_has_a_demo_expectation():
    assert set(EXPECTED) == set(SAMPLES)


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_sample_without_configuration_runs_its_demo_and_says_so(key):
    notice, result = EXPECTED[key]

    run = run_sample(key, CONTEXT)

    assert run.returncode == 0, run.output
    assert run.stderr == ""
    assert run.lines[0].startswith(f"Starting {key} (execution 9")
    assert run.lines[1].startswith(notice)
    assert any(re.search(result, line) for line in run.lines), run.lines
