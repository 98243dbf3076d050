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
