"""Two beats at once for three minutes, 20 deployments `@every 2s` on the Docker engine:
every tick is one row, and the engine started exactly one container for each run and none
for a skipped tick (counted from its event stream, not from rows)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from .scenario import TICKERS, TWO_BEATS_SECONDS

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.timeout(900)]


def _two_beat_rows(matrix):
    for schedule, seed, rows in matrix.tickers.values():
        yield schedule, seed, [r for r in rows if r["scheduled_for"] < matrix.beats_killed_at]


def test_every_tick_of_every_deployment_is_one_row(matrix):
    from deployments.schedules.parsing import parse_schedule

    assert len(matrix.tickers) == TICKERS
    for schedule, seed, rows in _two_beat_rows(matrix):
        ticks = [r["scheduled_for"] for r in rows]
        assert len(ticks) == len(set(ticks)), "a tick has two rows"
        expected = parse_schedule(schedule, seed).ticks_between(
            ticks[0] - timedelta(microseconds=1), ticks[-1]
        )
        assert ticks == expected, "a tick has no row"
        # The whole time both beats ran, not a part of it.
        assert (ticks[-1] - ticks[0]).total_seconds() > TWO_BEATS_SECONDS - 30


def test_each_run_started_exactly_one_container_and_a_skipped_tick_none(matrix):
    starts = matrix.starts.per_execution()
    for _schedule, _seed, rows in _two_beat_rows(matrix):
        # Forbid: a tick while the task (20 s) still runs is skipped, the next free one runs.
        assert len([r for r in rows if r["status"] == "succeeded"]) >= 2
        for r in rows:
            brief = {k: r[k] for k in ("pk", "status", "reason", "container_id", "started_at")}
            # A container recorded is a container started, once; none for anything else.
            assert starts.get(r["pk"], 0) == (1 if r["container_id"] else 0), brief
            if r["status"] == "succeeded":
                assert r["container_id"], brief
            elif r["status"] in ("skipped", "missed", "pending"):
                # (pending: on a busy machine, still waiting for a worker at the end)
                assert not r["container_id"], brief
            else:
                # Only the engine failing to answer may fail a run that sleeps and exits 0.
                assert "Docker engine" in r["reason"] or "worker lost" in r["reason"], brief
        skipped = [r for r in rows if r["status"] == "skipped"]
        assert all(r["reason"].startswith("overlap forbidden") for r in skipped)


def test_no_container_started_for_anything_but_a_recorded_run(matrix):
    from .scenario import ORPHAN_EXECUTION

    known = {r["pk"] for _s, _seed, rows in matrix.tickers.values() for r in rows}
    known |= {r["pk"] for rows in matrix.catchup.values() for r in rows}
    known |= set(matrix.doomed_pks) | {ORPHAN_EXECUTION}
    assert set(matrix.starts.per_execution()) <= known
    assert max(matrix.starts.per_execution().values()) == 1


def test_forbid_never_let_two_containers_of_a_deployment_overlap(matrix):
    by_deployment: dict[int, list] = {}
    for span in matrix.starts.spans:
        by_deployment.setdefault(span.deployment_id, []).append(span)
    for pk in matrix.tickers:
        spans = sorted(by_deployment[pk], key=lambda s: s.started)
        for before, after in zip(spans, spans[1:], strict=False):
            assert before.ended is not None and before.ended <= after.started


def test_both_beats_were_at_work_on_the_same_ticks(matrix):
    for log in matrix.beat_logs:
        assert "ChorusScheduler: tick" in log
    # Ticks one beat found claimed by the other: they really raced, and the claim decided.
    assert re.search(r"[1-9]\d* already claimed", "".join(matrix.beat_logs))
