"""Ticks: the scheduler's side. One Execution row per (deployment, tick), created exactly once.

`fire_tick` claims one tick for many deployments in one INSERT (the scheduler's fast path);
`catch_up` decides what happens to ticks that were not fired in time (beat was down, or stalled):
each is recorded as `missed` with its reason or run as a `catchup`, never silently dropped.
`execution_tick` is the same claim for one deployment, for the `chorus.execution.tick` task.

Policies (Deployment fields):
- a tick fired within `starting_deadline_seconds` of its time runs normally (late, and its fire
  lag says so);
- older ticks follow `catchup_policy`: none → missed "scheduler down"; latest → the most recent
  one runs as a catch-up (unless a fresh tick runs anyway), the others missed; all → every tick
  within `catchup_window_seconds` runs as a catch-up, older ones missed.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from deployments.executions.dispatch import (
    dispatch_on_commit,
    finished_on_commit,
    insert_claiming,
    new_task_id,
)
from deployments.models import CatchupPolicy, Deployment, Execution
from deployments.schedules.schedule import Schedule

logger = logging.getLogger(__name__)

# Ticks older than this many are summarised in one `missed` row instead of one row each.
MAX_MISSED_ROWS = 1000
SCHEDULER_DOWN = "scheduler down"


@dataclass
class TickTarget:
    """What the scheduler knows about a deployment when it fires a tick."""

    deployment_id: int
    status: str
    periodic_task_id: int | None = None
    build_id: int | None = None
    image_ref: str = ""
    image_digest: str = ""
    config_revision: int = 0
    payload: object = None  # the deployment's fixed payload (CHORUS_PAYLOAD)

    @classmethod
    def of(cls, d: Deployment) -> TickTarget:
        build = d.build
        return cls(
            deployment_id=d.pk,
            status=d.status,
            periodic_task_id=d.periodic_task_id,
            build_id=d.build_id,
            image_ref=build.image_ref if build else "",
            image_digest=build.image_digest if build else "",
            config_revision=d.config_revision,
            payload=d.payload,
        )


@dataclass
class FireResult:
    created: list[int]
    dispatched: int = 0
    skipped: int = 0


def _row(target: TickTarget, *, scheduled_for: datetime, now: datetime, **extra) -> Execution:
    return Execution(
        deployment_id=target.deployment_id,
        scheduled_for=scheduled_for,
        attempt=1,
        trigger=extra.pop("trigger", Execution.Trigger.SCHEDULE),
        queued_at=now,
        build_id=target.build_id,
        payload=target.payload,
        image_ref=target.image_ref,
        image_digest=target.image_digest,
        config_revision=target.config_revision,
        **extra,
    )


def _pending(target: TickTarget, *, scheduled_for, now, due_at, trigger=None) -> Execution:
    return _row(
        target,
        scheduled_for=scheduled_for,
        now=now,
        status=Execution.Status.PENDING,
        due_at=due_at,
        celery_task_id=new_task_id(),
        trigger=trigger or Execution.Trigger.SCHEDULE,
    )


def _final(target: TickTarget, *, scheduled_for, now, status, reason) -> Execution:
    return _row(
        target,
        scheduled_for=scheduled_for,
        now=now,
        status=status,
        reason=reason[:300],
        due_at=scheduled_for,
        finished_at=now,
    )


def _locked_in_order(model, ids: list[int]) -> list[int]:
    """Lock these rows in id order (as every writer of many rows here does: no deadlocks)."""
    return list(
        model.objects.select_for_update()
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _mark_ticked(targets: Sequence[TickTarget], tick: datetime, now: datetime) -> None:
    ids = _locked_in_order(Deployment, sorted({t.deployment_id for t in targets}))
    Deployment.objects.filter(pk__in=ids).filter(
        Q(last_tick_at__isnull=True) | Q(last_tick_at__lt=tick)
    ).update(last_tick_at=tick)
    pt_ids = sorted({t.periodic_task_id for t in targets if t.periodic_task_id})
    if pt_ids:
        from django.db.models import F
        from django_celery_beat.models import PeriodicTask

        pt_ids = _locked_in_order(PeriodicTask, pt_ids)
        # A queryset update on purpose: PeriodicTask.save() would tell every beat to reload.
        PeriodicTask.objects.filter(pk__in=pt_ids).update(
            last_run_at=now, total_run_count=F("total_run_count") + 1
        )


def _commit_rows(rows: list[Execution], *, eta_for) -> FireResult:
    created = insert_claiming(rows)
    by_pk = {r.pk: r for r in rows if r.pk}
    to_dispatch, finished = [], []
    for pk, _deployment_id, status in created:
        row = by_pk[pk]
        if status == Execution.Status.PENDING:
            to_dispatch.append((pk, row.celery_task_id, eta_for(row)))
        else:
            finished.append(pk)
    dispatch_on_commit(to_dispatch)
    finished_on_commit(finished)
    return FireResult(
        created=[c[0] for c in created], dispatched=len(to_dispatch), skipped=len(finished)
    )


def fire_tick(
    *, scheduled_for: datetime, targets: Sequence[TickTarget], now: datetime | None = None
) -> FireResult:
    """Claim `scheduled_for` for every target and dispatch the runs (ETA = the tick).

    Suspended deployments get a `skipped` row ("suspended"); undeployed ones nothing. Rows that
    already exist (another beat, a restarted beat) are left alone and not dispatched again.
    """
    now = now or timezone.now()
    rows = []
    for t in targets:
        if t.status == Deployment.Status.UNDEPLOYED:
            continue
        if t.status == Deployment.Status.SUSPENDED:
            rows.append(
                _final(
                    t,
                    scheduled_for=scheduled_for,
                    now=now,
                    status=Execution.Status.SKIPPED,
                    reason="suspended",
                )
            )
        else:
            rows.append(_pending(t, scheduled_for=scheduled_for, now=now, due_at=scheduled_for))
    with transaction.atomic():
        result = _commit_rows(rows, eta_for=lambda r: r.due_at)
        _mark_ticked(targets, scheduled_for, now)
    return result


def _ticks_tail(
    schedule: Schedule, tz: str, first: datetime, end: datetime, keep: int
) -> tuple[list[datetime], int]:
    """The last `keep` ticks in [first, end] (oldest first) and how many there are in all."""
    start = first - timedelta(microseconds=1)
    if end < first:
        return [], 0
    if schedule.is_interval:
        p = schedule.interval_seconds
        lo = int(start.timestamp() // p) * p + p
        hi = int(end.timestamp() // p) * p
        total = max(0, (hi - lo) // p + 1)
        begin = max(lo, hi - (keep - 1) * p)
        return [datetime.fromtimestamp(ts, UTC) for ts in range(begin, hi + 1, p)], total
    tail: deque[datetime] = deque(maxlen=keep)
    total = 0
    # Iterate in chunks so a very long outage does not hold all ticks in memory.
    cursor = start
    while True:
        chunk = schedule.ticks_between(cursor, end, tz, limit=5000)
        if not chunk:
            break
        total += len(chunk)
        tail.extend(chunk)
        cursor = chunk[-1]
        if len(chunk) < 5000:
            break
    return list(tail), total


def catch_up(
    *, deployment_id: int, first_tick: datetime, now: datetime | None = None
) -> datetime | None:
    """Handle every tick of the deployment from `first_tick` (a tick that was due and not fired)
    up to now: fire the fresh ones, and record or catch up the late ones per the policy.

    Returns the last tick handled (the new `last_tick_at`), or None when there was none.
    """
    now = now or timezone.now()
    d = (
        Deployment.objects.select_related("build", "component__project", "environment")
        .exclude(status=Deployment.Status.UNDEPLOYED)
        .filter(pk=deployment_id)
        .first()
    )
    if d is None:
        return None
    schedule = d.parsed_schedule()
    ticks, total = _ticks_tail(schedule, d.timezone, first_tick, now, MAX_MISSED_ROWS)
    if not ticks:
        return None
    target = TickTarget.of(d)
    deadline = timedelta(seconds=d.starting_deadline_seconds)
    window = timedelta(seconds=d.catchup_window_seconds)
    fresh = [t for t in ticks if now - t <= deadline]
    late = [t for t in ticks if now - t > deadline]
    rows: list[Execution] = []
    dropped = total - len(ticks)
    if dropped > 0:
        # Too many to record one by one: the oldest tick carries the count of the rest.
        rows.append(
            _final(
                target,
                scheduled_for=first_tick,
                now=now,
                status=Execution.Status.MISSED,
                reason=(
                    f"{SCHEDULER_DOWN}: this tick and {dropped - 1} more up to "
                    f"{ticks[0]:%Y-%m-%d %H:%M:%S} UTC were missed (not listed one by one)"
                ),
            )
        )
    if d.status == Deployment.Status.SUSPENDED:
        catch = set()
    elif d.catchup_policy == CatchupPolicy.ALL:
        catch = {t for t in late if now - t <= window}
    elif d.catchup_policy == CatchupPolicy.LATEST and late and not fresh:
        catch = {late[-1]} if now - late[-1] <= window else set()
    else:
        catch = set()
    for t in late:
        if t in catch:
            rows.append(
                _pending(
                    target, scheduled_for=t, now=now, due_at=now, trigger=Execution.Trigger.CATCHUP
                )
            )
            continue
        if d.status == Deployment.Status.SUSPENDED:
            reason = f"{SCHEDULER_DOWN} (and the deployment is suspended)"
        elif d.catchup_policy == CatchupPolicy.ALL:
            reason = (
                f"{SCHEDULER_DOWN}: older than the catch-up window ({d.catchup_window_seconds} s)"
            )
        elif d.catchup_policy == CatchupPolicy.LATEST:
            reason = f"{SCHEDULER_DOWN}: catch-up runs only the latest missed tick"
        else:
            reason = f"{SCHEDULER_DOWN}: not fired within the starting deadline ({d.starting_deadline_seconds} s)"
        rows.append(
            _final(target, scheduled_for=t, now=now, status=Execution.Status.MISSED, reason=reason)
        )
    for t in fresh:
        if d.status == Deployment.Status.SUSPENDED:
            rows.append(
                _final(
                    target,
                    scheduled_for=t,
                    now=now,
                    status=Execution.Status.SKIPPED,
                    reason="suspended",
                )
            )
        else:
            rows.append(_pending(target, scheduled_for=t, now=now, due_at=t))
    with transaction.atomic():
        result = _commit_rows(rows, eta_for=lambda r: r.due_at)
        _mark_ticked([target], ticks[-1], now)
    if late:
        logger.warning(
            "deployment %s: %d tick(s) from %s were not fired in time (%d catch-up run(s))",
            deployment_id,
            total - len(fresh),
            first_tick.isoformat(),
            len(catch),
        )
    logger.debug("catch-up for deployment %s created %d row(s)", deployment_id, len(result.created))
    return ticks[-1]


def execution_tick(*, deployment_id: int, scheduled_for: datetime | str | None = None):
    """Claim one tick of one deployment exactly once and dispatch its run.

    `scheduled_for` is the tick's time (ISO text or datetime); without it, the latest tick at or
    before now. A tick older than the starting deadline goes through `catch_up`. Returns the
    Execution of that tick (created now or earlier), or None when the deployment is undeployed.
    """
    now = timezone.now()
    d = (
        Deployment.objects.select_related("build", "component__project", "environment")
        .filter(pk=deployment_id)
        .first()
    )
    if d is None or d.status == Deployment.Status.UNDEPLOYED:
        return None
    schedule = d.parsed_schedule()
    if isinstance(scheduled_for, str):
        scheduled_for = datetime.fromisoformat(scheduled_for)
    if scheduled_for is None:
        scheduled_for = schedule.latest_at_or_before(now, d.timezone)
    if timezone.is_naive(scheduled_for):
        scheduled_for = scheduled_for.replace(tzinfo=UTC)
    if now - scheduled_for > timedelta(seconds=d.starting_deadline_seconds):
        catch_up(deployment_id=d.pk, first_tick=scheduled_for, now=now)
    else:
        fire_tick(scheduled_for=scheduled_for, targets=[TickTarget.of(d)], now=now)
    return Execution.objects.filter(deployment=d, scheduled_for=scheduled_for, attempt=1).first()
