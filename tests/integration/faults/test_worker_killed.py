"""An executions worker SIGKILLed in the middle of three runs, started again with a short
broker visibility timeout so its unacknowledged messages are delivered a second time: no
second container, the finished run's outcome and whole log adopted, the run still going
stopped and ended honestly, an orphan container removed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from .scenario import LINES, ORPHAN_EXECUTION, STALE_SECONDS

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.timeout(900)]

STALE = timedelta(seconds=STALE_SECONDS)


def _line_of(log: str, needle: str) -> str:
    return next((line for line in log.splitlines() if needle in line), "")


def test_the_killed_worker_s_messages_were_delivered_again(matrix):
    assert set(matrix.task_ids) == {"docker", "stuck", "local"}
    for task_id in matrix.task_ids.values():
        received = f"chorus.execution.run[{task_id}] received"
        assert received in matrix.doomed_log
        # The restarted worker got the same message again (Redis put it back on the queue)
        # and found the run already claimed: it started nothing.
        assert received in matrix.redelivered_log
        done = _line_of(matrix.redelivered_log, f"chorus.execution.run[{task_id}] succeeded")
        assert done.endswith("'not pending'"), done


def test_a_redelivered_run_starts_no_second_container(matrix):
    for name in ("docker", "stuck"):
        row = matrix.doomed[name]
        assert len(matrix.starts.of(row["pk"])) == 1
        assert matrix.containers_left[name] == []


def test_a_run_that_ended_meanwhile_keeps_every_line_once_and_in_order(matrix):
    log = matrix.doomed["docker"]["log"]
    task_lines = [(stream, text) for stream, text in log if stream != "chorus"]
    expected = [("stdout", f"line-{i}") for i in range(1, LINES + 1)] + [("stderr", "the-end")]
    assert task_lines == expected, log
    # Most of them were printed after the worker died: the engine's copy filled the gap.
    assert matrix.stored_at_kill["docker"] < LINES - 4
    assert any("the worker was lost" in text for stream, text in log if stream == "chorus")


def test_its_outcome_and_times_are_the_container_s_own(matrix):
    row = matrix.doomed["docker"]
    assert (row["status"], row["exit_code"]) == ("failed", 3)
    assert row["reason"] == "exit code 3 (its worker was lost meanwhile)"
    # About 12 s of printing; the reconciler could only act once the heartbeat was stale.
    duration = (row["finished_at"] - row["started_at"]).total_seconds()
    assert LINES - 1 <= duration < LINES + 4, duration
    assert row["finished_at"] < matrix.doomed_killed_at + STALE
    [span] = matrix.starts.of(row["pk"])
    assert row["container_id"] == span.container_id
    assert abs((span.started - row["started_at"]).total_seconds()) < 0.5


def test_a_run_still_going_is_stopped_and_fails_as_worker_lost(matrix):
    row = matrix.doomed["stuck"]
    assert row["status"] == "failed"
    assert row["reason"] == "worker lost (the container was stopped)"
    assert ("stdout", "started") in row["log"]
    [span] = matrix.starts.of(row["pk"])
    assert span.ended is not None


def test_an_orphan_container_is_removed(matrix):
    [span] = matrix.starts.of(ORPHAN_EXECUTION)
    assert span.ended is not None
