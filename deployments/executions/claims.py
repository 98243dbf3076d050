"""Claiming pending executions on the worker side, many at once.

The claim is a conditional UPDATE (`status = 'pending'` → `'running'`): whoever's UPDATE
changes the row runs it, so a redelivered or duplicated message never runs an execution twice.
Before it, in the same transaction, the policies decide whether each one runs at all:
- a tick of a suspended (or undeployed) deployment → skipped "suspended";
- a tick no worker reached within its starting deadline → missed;
- concurrency Forbid with a run in progress → skipped "overlap forbidden (execution #N still
  running)"; Replace → the running one is asked to stop; Allow → runs;
- catch-up runs of a Forbid/Replace deployment wait for each other (oldest first) within the
  catch-up window.
For Forbid/Replace the deployment rows are locked (in id order, so claimers never deadlock),
which serialises "is another one running?" with the claim.

The waiting and gathering of one instant's runs is in batch.py; what a claimed run needs to
start (configuration, secrets, environment) is read in prepare.py.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Min
from django.db.models.expressions import RawSQL
from django.utils import timezone

from deployments.executions.dispatch import finished_on_commit
from deployments.models import (
    ConcurrencyPolicy,
    Deployment,
    Environment,
    Execution,
)

logger = logging.getLogger(__name__)

Status = Execution.Status
Trigger = Execution.Trigger

# Statuses of executions that really started (CHORUS_EXECUTION_COUNT counts them).
RAN = (
    Status.RUNNING,
    Status.SUCCEEDED,
    Status.PARTIAL,
    Status.FAILED,
    Status.TIMED_OUT,
    Status.CANCELLED,
)
# Triggers bound to a tick: a suspended deployment skips them; only they retry automatically.
SCHEDULED = (Trigger.SCHEDULE, Trigger.CATCHUP, Trigger.RETRY)


class Outcome:
    RAN = "ran"
    SKIPPED = "skipped"
    MISSED = "missed"
    NOT_PENDING = "not pending"
    WAIT = "wait"  # try again in a moment (a catch-up waiting for the running one)
    DEFER = "defer"  # not early (hold.py): another run of its deployment is going; at the tick


class Gate:
    """Counts the runs of one batch that have started. A run that has ended waits (briefly) at
    the gate before its bookkeeping, so the last of a thousand starts is not queued behind the
    database writes of the first ones."""

    def __init__(self, n: int) -> None:
        self.left = n
        self.cv = threading.Condition()

    def started(self) -> None:
        with self.cv:
            self.left -= 1
            if self.left <= 0:
                self.cv.notify_all()

    def wait(self, timeout: float) -> None:
        with self.cv:
            self.cv.wait_for(lambda: self.left <= 0, timeout=timeout)


@dataclass
class Started:
    """A claimed execution with everything its run needs."""

    execution: Execution
    environment: Environment
    config: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    executions_before: int = 0  # runs of this deployment before this one
    last_success_at: datetime | None = None
    gate: Gate | None = None
    _passed: bool = False
    # Filled by the `plan` callback of start_when_due (run.py): everything the run needs, made
    # by the batch's leader so each thread only starts its runtime.
    plan: object | None = None
    # Claimed ahead of its tick (hold.py): started now and held by the runtime until this Unix
    # time; `held` is its group (measures the engine's start rate).
    hold_until: float | None = None
    held: object | None = None

    def mark_started(self) -> None:
        if not self._passed and self.gate is not None:
            self._passed = True
            self.gate.started()


def end_pending(execution: Execution, *, status: str, reason: str) -> bool:
    """pending → skipped/missed/cancelled, if it is still pending. True when this call did it."""
    now = timezone.now()
    with transaction.atomic():
        done = (
            Execution.objects.filter(pk=execution.pk, status=Status.PENDING).update(
                status=status, reason=reason[:300], finished_at=now
            )
            == 1
        )
        if done:
            finished_on_commit([execution.pk])
    if done:
        execution.status, execution.reason, execution.finished_at = status, reason[:300], now
    return done


# --- the claim ----------------------------------------------------------------------------------
@dataclass
class _Row:
    pk: int
    deployment_id: int
    trigger: str
    scheduled_for: datetime
    due_at: datetime | None
    status: str  # the deployment's
    policy: str
    deadline: int
    window: int


def _decide(
    rows: list[_Row],
    running: dict[int, list[int]],
    now,
    *,
    early: bool = False,
    waiting: dict[int, datetime] | None = None,
) -> tuple[list, dict, dict]:
    """(ids to run, {(status, reason): ids} to end, {replaced id: by id}).

    `early`: claimed ahead of the tick to be held until it (hold.py). A run that would be
    skipped or would replace another (Forbid / Replace with one going), or whose deployment
    has an earlier tick still pending (`waiting`: deployment id → its earliest pending tick
    outside this claim), is deferred to its tick instead: the one going may end before it,
    and the earlier tick is decided first."""
    waiting = waiting or {}
    run: list[int] = []
    end: dict[tuple[str, str], list[int]] = defaultdict(list)
    replace: dict[int, int] = {}
    pending_catchups: dict[int, list[_Row]] = defaultdict(list)
    for r in rows:
        if r.trigger == Trigger.CATCHUP:
            pending_catchups[r.deployment_id].append(r)
    for r in sorted(rows, key=lambda r: (r.scheduled_for, r.pk)):
        if r.trigger in SCHEDULED and r.status != Deployment.Status.ACTIVE:
            reason = "suspended" if r.status == Deployment.Status.SUSPENDED else "undeployed"
            end[(Status.SKIPPED, reason)].append(r.pk)
            continue
        late = (now - (r.due_at or r.scheduled_for)).total_seconds()
        if r.trigger == Trigger.SCHEDULE and late > r.deadline:
            end[
                (
                    Status.MISSED,
                    f"starting deadline passed: no worker could start it within {r.deadline} s "
                    f"(it was {late:.0f} s late)",
                )
            ].append(r.pk)
            continue
        busy = running.get(r.deployment_id, [])
        earlier = waiting.get(r.deployment_id)
        if (
            early
            and r.policy != ConcurrencyPolicy.ALLOW
            and (busy or (earlier is not None and earlier < r.scheduled_for))
        ):
            end[(Outcome.DEFER, "")].append(r.pk)
            continue
        if r.trigger == Trigger.CATCHUP and r.policy != ConcurrencyPolicy.ALLOW:
            older = any(
                o.scheduled_for < r.scheduled_for and o.pk not in run
                for o in pending_catchups[r.deployment_id]
                if o.pk != r.pk
            )
            if busy or older:
                if (now - r.scheduled_for).total_seconds() > r.window:
                    end[
                        (
                            Status.MISSED,
                            "scheduler down: the catch-up window passed while earlier runs "
                            "were still going",
                        )
                    ].append(r.pk)
                else:
                    end[(Outcome.WAIT, "")].append(r.pk)
                continue
        if busy and r.policy == ConcurrencyPolicy.FORBID:
            end[(Status.SKIPPED, f"overlap forbidden (execution #{busy[0]} still running)")].append(
                r.pk
            )
            continue
        if busy and r.policy == ConcurrencyPolicy.REPLACE:
            for other in busy:
                replace[other] = r.pk
            busy.clear()
        run.append(r.pk)
        running.setdefault(r.deployment_id, []).append(r.pk)
    return run, end, replace


def id_list_sql(ids: list[int]) -> tuple[str, list]:
    """SQL for "one of `ids`" (after IN) and its parameters. On PostgreSQL one array
    parameter: thousands of placeholders cost more to build and parse than the query takes."""
    if connection.vendor == "postgresql":
        return "SELECT unnest(%s::bigint[])", [list(ids)]
    return ", ".join(["%s"] * len(ids)), list(ids)


def ids_in(ids: list[int]):
    """`ids` for a `pk__in` filter (see id_list_sql)."""
    sql, params = id_list_sql(ids)
    return RawSQL(sql, params) if connection.vendor == "postgresql" else params


def _update_pending(ids: list[int], assignments: str, params: list) -> list[int]:
    """UPDATE the still-pending executions among `ids`; returns those it changed.
    `assignments` may name the two tables as {e} (executions) and {d} (deployments)."""
    qn = connection.ops.quote_name
    e, d = qn(Execution._meta.db_table), qn(Deployment._meta.db_table)
    among, values = id_list_sql(ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {e} SET {assignments.format(d=d, e=e)} FROM {d} "
            f"WHERE {d}.id = {e}.deployment_id AND {e}.status = %s "
            f"AND {e}.id IN ({among}) RETURNING {e}.id",
            [*params, Status.PENDING, *values],
        )
        return [row[0] for row in cursor.fetchall()]


def _claim(ids: list[int], *, worker: str, early: bool = False) -> tuple[list[int], dict[int, str]]:
    """Claim what may run among `ids`; end the others. (claimed ids, {id: outcome}).

    `early`: ahead of the tick, for a held start; the start time stays empty until the task
    really begins (run.py records it)."""
    now = timezone.now()
    outcomes: dict[int, str] = {}
    with transaction.atomic():
        rows = [
            _Row(*values)
            for values in Execution.objects.filter(
                pk__in=ids_in(ids), status=Status.PENDING
            ).values_list(
                "pk",
                "deployment_id",
                "trigger",
                "scheduled_for",
                "due_at",
                "deployment__status",
                "deployment__concurrency_policy",
                "deployment__starting_deadline_seconds",
                "deployment__catchup_window_seconds",
            )
        ]
        exclusive = sorted(
            {
                r.deployment_id
                for r in rows
                if r.policy != ConcurrencyPolicy.ALLOW or r.trigger == Trigger.CATCHUP
            }
        )
        running: dict[int, list[int]] = {}
        if exclusive:
            # Lock in id order (every claimer does the same, so none deadlocks), and re-read
            # what may have changed since.
            fresh = {
                pk: (status, policy)
                for pk, status, policy in Deployment.objects.select_for_update()
                .filter(pk__in=exclusive)
                .order_by("pk")
                .values_list("pk", "status", "concurrency_policy")
            }
            for r in rows:
                if r.deployment_id in fresh:
                    r.status, r.policy = fresh[r.deployment_id]
            for deployment_id, pk in (
                Execution.objects.filter(deployment_id__in=exclusive, status=Status.RUNNING)
                .exclude(pk__in=ids_in(ids))
                .order_by("started_at", "pk")
                .values_list("deployment_id", "pk")
            ):
                running.setdefault(deployment_id, []).append(pk)
        waiting: dict[int, datetime] = {}
        if exclusive and early:
            # An earlier tick of the deployment not claimed yet (its message late: a worker
            # just started, a busy machine) goes first: claimed ahead, this one would make it
            # the overlap.
            waiting = dict(
                Execution.objects.filter(
                    deployment_id__in=exclusive,
                    status=Status.PENDING,
                    trigger__in=[Trigger.SCHEDULE, Trigger.CATCHUP],
                )
                .exclude(pk__in=ids_in(ids))
                .values("deployment_id")
                .annotate(first=Min("scheduled_for"))
                .values_list("deployment_id", "first")
                .order_by()
            )
        run, end, replace = _decide(rows, running, now, early=early, waiting=waiting)
        claimed: list[int] = []
        if run:
            # One statement for all: the config revision each run uses comes from its deployment.
            claimed = _update_pending(
                run,
                "status = %s, started_at = %s, heartbeat_at = %s, worker = %s, "
                # A re-run keeps the revision it asked for (snapshots.py); prepare.py checks it.
                "config_revision = CASE WHEN {e}.trigger = %s AND {e}.config_revision > 0 "
                "THEN {e}.config_revision ELSE {d}.config_revision END",
                [Status.RUNNING, None if early else now, now, (worker or "")[:200], Trigger.RERUN],
            )
        ended: list[int] = []
        for (status, reason), pks in end.items():
            if status in (Outcome.WAIT, Outcome.DEFER):
                outcomes.update(dict.fromkeys(pks, status))
                continue
            done = _update_pending(
                pks, "status = %s, reason = %s, finished_at = %s", [status, reason[:300], now]
            )
            ended += done
            outcome = Outcome.MISSED if status == Status.MISSED else Outcome.SKIPPED
            outcomes.update(dict.fromkeys(done, outcome))
        by_replacer: dict[int, list[int]] = defaultdict(list)
        for old, new in replace.items():
            by_replacer[new].append(old)
        for new, olds in by_replacer.items():
            Execution.objects.filter(pk__in=olds, status=Status.RUNNING).update(
                cancel_requested=True, reason=f"replaced by execution #{new}"
            )
        finished_on_commit(ended)
    return claimed, outcomes


def claim_and_prepare(
    ids: list[int], *, worker: str, early: bool = False
) -> dict[int, Started | str]:
    """Claim `ids` together; a Started for each claimed one, an Outcome for the others.

    The claim and the reads that prepare the runs are one transaction: when the database
    goes away in between (a restart), the claim is undone with them and the task's retry
    claims again, instead of leaving runs claimed that nobody starts."""
    from deployments.executions.prepare import prepare_started

    with transaction.atomic():
        claimed, outcomes = _claim(sorted(set(ids)), worker=worker, early=early)
        results: dict[int, Started | str] = dict(outcomes)
        if claimed:
            results.update(prepare_started(claimed))
    for pk in ids:
        results.setdefault(pk, Outcome.NOT_PENDING)
    return results
