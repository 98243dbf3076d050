"""The local runtime (bubblewrap) when its worker is SIGKILLed mid-run: the task runs on in its
own session, its output and exit status go to its run directory, and the reconciler adopts
them as it adopts a container's: every line once, the task's exit code, its own start and end."""

from __future__ import annotations

from datetime import timedelta

import pytest

from .scenario import LINES, STALE_SECONDS

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.timeout(900)]

STALE = timedelta(seconds=STALE_SECONDS)


def test_every_line_the_local_task_printed_is_in_the_log_once(matrix):
    log = matrix.doomed["local"]["log"]
    task_lines = [(stream, text) for stream, text in log if stream != "chorus"]
    # Ran once (the redelivered message started nothing): no line twice.
    expected = [("stdout", f"line-{i}") for i in range(1, LINES + 1)] + [("stderr", "the-end")]
    assert task_lines == expected, log
    assert matrix.stored_at_kill["local"] < LINES - 4
    assert any("the worker was lost" in text for stream, text in log if stream == "chorus")


def test_the_local_task_s_exit_code_and_times_are_its_own(matrix):
    row = matrix.doomed["local"]
    assert (row["status"], row["exit_code"]) == ("failed", 3)
    assert row["reason"] == "exit code 3 (its worker was lost meanwhile)"
    duration = (row["finished_at"] - row["started_at"]).total_seconds()
    assert LINES - 1 <= duration < LINES + 4, duration
    assert row["finished_at"] < matrix.doomed_killed_at + STALE


def test_the_local_run_leaves_nothing_behind(matrix):
    assert matrix.doomed["local"]["container_id"].startswith("local-")
    assert matrix.local_runs_left == []
