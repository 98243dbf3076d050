"""Executions: every write about a run of a deployment (docs/CONTRACTS.md).

- ticks.py      the scheduler's side: claim a tick exactly once, catch up missed ticks
- batch.py      the worker's side, part 1: wait for the tick, gather that instant's runs
- claims.py     the worker's side, part 2: claim pending → running (in bulk), policies
- run.py        the worker's side, part 3: run through the runtime, heartbeat
- finish.py     the worker's side, part 4: final status and last line, retry, observability
- actions.py    run now, cancel, re-run (people, the API, the CLI)
- retention.py  history retention per deployment
- dispatch.py   claiming INSERTs, publishing run messages, observability hooks
- snapshots.py  the configuration each config revision ran with, for re-runs
"""

from __future__ import annotations

from deployments.executions.actions import (
    execution_cancel,
    execution_rerun,
    execution_run_now,
)
from deployments.executions.claims import Outcome, claim_and_prepare, end_pending
from deployments.executions.dispatch import publish_runs
from deployments.executions.retention import executions_cleanup
from deployments.executions.run import (
    context_env,
    execution_finish,
    execution_run,
    labels_for,
)
from deployments.executions.ticks import TickTarget, catch_up, execution_tick, fire_tick

__all__ = [
    "Outcome",
    "TickTarget",
    "catch_up",
    "claim_and_prepare",
    "end_pending",
    "context_env",
    "execution_cancel",
    "execution_finish",
    "execution_rerun",
    "execution_run",
    "execution_run_now",
    "execution_tick",
    "executions_cleanup",
    "fire_tick",
    "labels_for",
    "publish_runs",
]
