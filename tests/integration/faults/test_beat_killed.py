"""Both beats SIGKILLed for 30 s, then one started again: each deployment's catch-up policy
decides the ticks of the outage exactly (none: all missed; latest: only the latest run,
unless a fresh tick was about to run anyway; all: every one run), one container per run."""

from __future__ import annotations

from datetime import timedelta

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.timeout(900)]

# The catch-up deployments' starting deadline: older ticks are the catch-up policy's.
DEADLINE = timedelta(seconds=1)


def _decision(matrix):
    """When the restarted beat decided the missed ticks (a catch-up row is due then)."""
    return min(r["due_at"] for r in matrix.catchup["all"] if r["trigger"] == "catchup")


def _outage(matrix, policy):
    """(late, fresh): the outage's ticks past the deadline when the beat came back, and those
    still within it. Ticks the killed beats had already sent ahead are left out."""
    from deployments.executions.scheduler import LEAD_SECONDS

    first = matrix.beats_killed_at + timedelta(seconds=LEAD_SECONDS + 1)
    decided = _decision(matrix)
    rows = [r for r in matrix.catchup[policy] if first < r["scheduled_for"] <= decided]
    late = [r for r in rows if decided - r["scheduled_for"] > DEADLINE]
    fresh = [r for r in rows if decided - r["scheduled_for"] <= DEADLINE]
    assert len(late) >= 10  # 30 s at a tick every 2 s
    assert all(r["trigger"] == "schedule" for r in fresh)
    return late, fresh


def _starts(matrix, row) -> int:
    return len(matrix.starts.of(row["pk"]))


def _ran_once(matrix, row) -> None:
    """A caught-up tick ran: one container when it recorded one, none otherwise; it succeeded
    unless the engine did not answer or a live worker starved past the stale limit on a
    saturated machine (then the reconciler ends it as "worker lost")."""
    assert _starts(matrix, row) == (1 if row["container_id"] else 0), row
    if row["status"] == "succeeded":
        assert row["container_id"], row
    else:
        assert "Docker engine" in row["reason"] or "worker lost" in row["reason"], row


def test_every_tick_is_one_row_across_the_outage(matrix):
    from deployments.schedules.parsing import parse_schedule

    for rows in matrix.catchup.values():
        ticks = [r["scheduled_for"] for r in rows]
        assert len(ticks) == len(set(ticks))
        assert ticks == parse_schedule("@every 2s").ticks_between(
            ticks[0] - timedelta(microseconds=1), ticks[-1]
        )
        assert ticks[0] < matrix.beats_killed_at and ticks[-1] > matrix.beat_back_at


def test_policy_none_records_every_missed_tick(matrix):
    late, _fresh = _outage(matrix, "none")
    for r in late:
        assert r["status"] == "missed" and r["reason"].startswith("scheduler down"), r
        assert _starts(matrix, r) == 0


def test_policy_latest_runs_only_the_latest_missed_tick(matrix):
    late, fresh = _outage(matrix, "latest")
    caught = [r for r in late if r["trigger"] == "catchup"]
    if fresh:
        assert caught == []  # a tick was about to run anyway
    else:
        assert [r["scheduled_for"] for r in caught] == [late[-1]["scheduled_for"]]
        _ran_once(matrix, caught[0])
    for r in late:
        if r not in caught:
            assert r["status"] == "missed" and r["reason"].startswith("scheduler down"), r
            assert _starts(matrix, r) == 0


def test_policy_all_runs_every_missed_tick_once(matrix):
    late, _fresh = _outage(matrix, "all")
    for r in late:
        assert r["trigger"] == "catchup", r
        _ran_once(matrix, r)
    succeeded = [r for r in late if r["status"] == "succeeded"]
    assert len(succeeded) >= len(late) // 2
    for r in succeeded:
        assert ("stdout", f"caught catchup {r['scheduled_for'].isoformat()}") in r["log"]
