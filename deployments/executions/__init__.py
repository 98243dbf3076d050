"""Executions: one run of a deployment, from its tick to its end (docs/architecture.md).

- scheduler.py  beat (ChorusScheduler): plans every deployment's next tick, fires groups
- ticks.py      the scheduler's side: claim a tick exactly once, catch up missed ticks
- dispatch.py   claiming INSERTs, publishing run messages, observability hooks
- tasks.py      the Celery tasks: tick, run, reconcile, cleanup
- batch.py      the worker's side, part 1: wait for the tick, gather that instant's runs
- claims.py     the worker's side, part 2: claim pending → running (in bulk), policies
- run.py        the worker's side, part 3: run through the runtime, heartbeat
- finish.py     the worker's side, part 4: final status and last line, retry, observability
- actions.py    run now, cancel, re-run (people, the API, the CLI)
- reconcile.py  makes the database tell the truth after a crash
- retention.py  deleting executions: per-deployment policies and the raw retention
- snapshots.py  the configuration each config revision ran with, for re-runs
- selectors.py, views.py, api.py   reads, pages and the REST API
"""
