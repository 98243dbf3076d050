"""Starting the runs of one instant together, in one worker process.

Why in bulk: a thousand deployments due at the same second reach a worker process as a
thousand messages published ahead of the tick. Each task waits for its due time in
`start_when_due`; the first to wake claims, for every task of that instant in this process, in
a handful of queries, and loads what they need to run (deployment, environment, config and
secrets, scheduling context). Then the runs start: those of a `quick_start` runtime in a row
by the leader itself (run.py `_plan_all`), the others each in its own thread. Per execution that
is a few hundred microseconds instead of a dozen round trips, so starts stay within a second of
the tick (see tests/bench/fire_lag.py and docs/performance.md).

Runs that a runtime can hold (`hold`, the runtime kind: Docker, local) gather apart: their
leader wakes a lead *before* the tick that grows with the group (hold.py), claims them early,
and each thread starts its container at once, held by the runtime until the tick; a guard
thread withdraws those whose deployment changes meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from deployments.executions import hold as holding
from deployments.executions.claims import Gate, Outcome, Started, claim_and_prepare

logger = logging.getLogger(__name__)

# Late arrivals wait this long for others due at the same instant, to claim them together.
GATHER_SECONDS = 0.02


class _Batch:
    def __init__(self) -> None:
        self.ids: list[int] = []
        # One lock per waiting member, held until the claim is done: waking thousands of
        # threads through one shared Event makes them queue on its lock for seconds.
        self.waiters: list[threading.Lock] = []
        self.taken = False
        self.results: dict[int, Started | str] = {}
        self.error: BaseException | None = None


_lock = threading.Lock()
_open: dict[tuple[float, str], _Batch] = {}


def start_when_due(
    execution_id: int,
    due: float,
    *,
    worker: str,
    plan: Callable[[list[Started]], None] | None = None,
    hold: str = "",
) -> Started | str:
    """Wait until `due` (a Unix time), then claim this execution together with every other one
    of this process due at the same instant. Returns Started or an Outcome.

    The first task of an instant leads: it alone sleeps until `due`, then claims for all.
    The others wait on the batch and wake once, when the claim is done (thousands of threads
    waking at the tick to look would starve the leader of the interpreter lock).

    `hold` (a runtime kind): claim a lead ahead of `due` and start held (see the module's
    docstring); a run deferred by that claim (Outcome.DEFER) comes back to wait for `due`.
    """
    key = (due, worker, hold)
    wake_me = threading.Lock()
    with _lock:
        batch = _open.get(key)
        leader = batch is None
        if leader:
            batch = _open[key] = _Batch()
        else:
            wake_me.acquire()
            batch.waiters.append(wake_me)
        batch.ids.append(execution_id)
    if leader:
        if hold:
            _wait_for_lead(batch, due, hold)
        else:
            arrived = time.time()
            # A late first arrival gives others of the same instant a moment to join.
            wake = due if arrived < due else arrived + GATHER_SECONDS
            if wake > time.time():
                time.sleep(wake - time.time())
        with _lock:
            batch.taken = True
            if _open.get(key) is batch:
                del _open[key]
            ids = list(batch.ids)
            waiters = list(batch.waiters)
        try:
            began = time.time()
            batch.results = claim_and_prepare(ids, worker=worker, early=bool(hold))
            started = [r for r in batch.results.values() if isinstance(r, Started)]
            gate = Gate(len(started))
            held = holding.HeldGroup(hold, due, len(started)) if hold else None
            for r in started:
                r.gate = gate
                if held is not None:
                    r.hold_until, r.held = due, held
            if plan is not None:
                plan(started)
            if held is not None and started:
                threading.Thread(
                    target=holding.guard, args=(due, started), name="hold-guard", daemon=True
                ).start()
            logger.debug(
                "claimed %d execution(s) due %.3f: began %+.3f s after it, took %.3f s",
                len(ids),
                due,
                began - due,
                time.time() - began,
            )
        except BaseException as exc:  # handed to every waiting member
            batch.error = exc
            raise
        finally:
            for waiter in waiters:
                waiter.release()
    elif not wake_me.acquire(timeout=max(due - time.time(), 0) + 600):
        raise TimeoutError(f"execution {execution_id}: the batch claim did not finish")
    if batch.error is not None:
        raise batch.error
    return batch.results.get(execution_id, Outcome.NOT_PENDING)


def _wait_for_lead(batch: _Batch, due: float, kind: str) -> None:
    """Sleep until the lead of the group as it is now (it grows as members join)."""
    arrived = time.time()
    if arrived >= due - holding.rate.lead(kind, len(batch.ids)):
        # Already within the lead: the others of this instant, arriving with it, join.
        time.sleep(holding.GATHER_SECONDS)
        return
    while True:
        with _lock:
            n = len(batch.ids)
        left = due - holding.rate.lead(kind, n) - time.time()
        if left <= 0:
            return
        time.sleep(min(left, 0.1))
