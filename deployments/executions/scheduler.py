"""ChorusScheduler: django-celery-beat's DatabaseScheduler, with a fast path for deployments.

Stock beat handles one entry per loop: for every due task it re-reads the change marker,
compares whole schedules and sends one message, so 1,000 tasks due in the same minute leave
beat seconds to tens of seconds late. And it never tells a task which tick it is running.

Here every PeriodicTask of a deployment (task "chorus.execution.tick", kwargs
{"deployment_id": id}) is taken out of the stock heap and kept in a plan of its own: one entry
per deployment with its next tick computed from the deployment's schedule (cron in its
timezone by cron's DST rule, `@every` in absolute time, `@at` once; see deployments/schedules/;
a one-off that has fired leaves the plan). When a tick comes near,
all deployments due at that instant are claimed together — one INSERT of their Execution rows
with ON CONFLICT DO NOTHING on (deployment, scheduled_for, attempt), which is the claim — and
their run messages are published in one connection *ahead* of the tick with `eta` = the tick,
so workers hold them and start on time. The lead grows with the size of the group, and for runs
a worker starts ahead and holds until the tick (Docker, local; executions/hold.py) with the
time their engine needs to start them all (its measured seconds per start).
Other PeriodicTasks (the reconciler, observability jobs) go through the stock path unchanged.

- Schedule changes: the stock change marker (PeriodicTasks.last_update) is checked every loop,
  at most every CHORUS_BEAT_MAX_INTERVAL (0.5 s), and the plan is re-read when it moves; it is
  also re-read every minute for changes that do not touch the PeriodicTask.
- Missed ticks: an entry starts from Deployment.last_tick_at (or from when its schedule was
  set); ticks that passed while no beat ran go through the catch-up policy
  (ticks.catch_up) — recorded as missed or run as catch-ups, never lost.
- Two beats, a restarted beat: the INSERT claims each tick once; only the beat whose INSERT
  created a row publishes its run.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, InterfaceError, close_old_connections
from django.utils import timezone
from django_celery_beat.schedulers import DatabaseScheduler

from deployments.executions.hold import HOLD_KINDS, lead_for, shared_per_start

logger = logging.getLogger("deployments.executions.scheduler")

TICK_TASK = "chorus.execution.tick"
MAX_LOOP_INTERVAL = float(getattr(settings, "CHORUS_BEAT_MAX_INTERVAL", 0.5))
# Runs are published this long before their tick (plus the estimated cost of a big group).
LEAD_SECONDS = float(getattr(settings, "CHORUS_BEAT_LEAD_SECONDS", 3.0))
MAX_LEAD_SECONDS = 30.0
# Never so early that the messages take the (slow) ETA path (dispatch.HOLD_AFTER), or, for held
# runs, that workers send them back for being too early (run.EARLY_WAIT_MAX).
MAX_TOTAL_LEAD_SECONDS = 38.0
MAX_HELD_LEAD_SECONDS = 58.0
REFRESH_SECONDS = 60.0


@dataclass(eq=False)
class _Entry:
    deployment_id: int
    key: tuple
    schedule: object  # deployments.schedules.Schedule
    tz: str
    deadline: float
    target: object  # ticks.TickTarget
    next_ts: float = 0.0
    version: int = 0
    hold: str = ""  # the runtime kind, when its runs start ahead, held (hold.HOLD_KINDS)


def _parse(expr: str, seed: str, dst: str):
    from deployments.schedules.parsing import parse_schedule

    return parse_schedule(expr, seed, dst=dst)


def _seed_of(expr: str, project: str, component: str, environment: str) -> str:
    """The seed `H` needs, or "" when the schedule has none (so equal schedules share ticks)."""
    from deployments.schedules.parsing import schedule_seed, uses_spread

    return schedule_seed(project, component, environment) if uses_spread(expr) else ""


class ChorusScheduler(DatabaseScheduler):
    """DatabaseScheduler + a bulk, tick-exact path for Chorus deployments."""

    def __init__(self, *args, **kwargs):
        self._entries: dict[int, _Entry] = {}
        self._plan: list[tuple[float, int, int]] = []
        self._plan_counts: Counter[float] = Counter()
        self._hold_counts: Counter[tuple[float, str]] = Counter()
        self._per_start: dict[str, float] = {}
        self._plan_dirty = True
        self._plan_loaded_at = 0.0
        self._versions = 0
        self._schedules: dict[str, object] = {}
        self._next_cache: dict[tuple, float] = {}
        # Seconds per deployment to claim and publish a group (EWMA), for the lead; workers
        # need about as long again to receive the messages.
        self._per_item = 0.002
        self._heartbeat = None
        super().__init__(*args, **kwargs)
        self.max_interval = min(self.max_interval or MAX_LOOP_INTERVAL, MAX_LOOP_INTERVAL)

    # --- the stock path, minus deployments -----------------------------------------------
    def close(self):
        if self._heartbeat is not None:
            self._heartbeat.remove()  # a clean stop: gone at once, not stale in 30 s
        super().close()

    def enabled_models_qs(self):
        return super().enabled_models_qs().exclude(task=TICK_TASK)

    def schedule_changed(self):
        changed = super().schedule_changed()
        if changed:
            self._plan_dirty = True
        return changed

    def tick(self, *args, **kwargs):
        if self._heartbeat is None:
            from observability.heartbeats import beat_heartbeat

            self._heartbeat = beat_heartbeat()
        self._heartbeat.touch()  # the portal warns when no beat checks in
        delay = super().tick(*args, **kwargs)
        try:
            chorus_delay = self._chorus_tick()
        except (DatabaseError, InterfaceError):
            logger.exception("ChorusScheduler: database error; re-reading the plan")
            close_old_connections()
            self._entries.clear()
            self._plan_dirty = True
            chorus_delay = self.max_interval
        return max(0.0, min(delay, chorus_delay))

    # --- the plan ----------------------------------------------------------------------------
    def _schedule_of(self, expr: str, seed: str = "", dst: str = "cron"):
        s = self._schedules.get((expr, seed, dst))
        if s is None:
            s = self._schedules[(expr, seed, dst)] = _parse(expr, seed, dst)
        return s

    def _next_ts(self, entry: _Entry, after: datetime) -> float:
        key = (entry.key[0], entry.tz, after)
        ts = self._next_cache.get(key)
        if ts is None:
            following = entry.schedule.next_after(after, entry.tz)
            # A one-off schedule that has fired has no next tick: it leaves the plan.
            ts = following.timestamp() if following is not None else math.inf
            if len(self._next_cache) > 100_000:
                self._next_cache.clear()
            self._next_cache[key] = ts
        return ts

    def _push(self, entry: _Entry) -> None:
        if entry.next_ts == math.inf:
            return
        self._versions += 1
        entry.version = self._versions
        heapq.heappush(self._plan, (entry.next_ts, entry.deployment_id, entry.version))
        self._plan_counts[entry.next_ts] += 1
        if entry.hold:
            self._hold_counts[(entry.next_ts, entry.hold)] += 1

    def _pop(self) -> tuple[float, int, int]:
        item = heapq.heappop(self._plan)
        self._plan_counts[item[0]] -= 1
        if self._plan_counts[item[0]] <= 0:
            del self._plan_counts[item[0]]
        entry = self._entries.get(item[1])
        if entry is not None and entry.version == item[2] and entry.hold:
            key = (item[0], entry.hold)
            self._hold_counts[key] -= 1
            if self._hold_counts[key] <= 0:
                del self._hold_counts[key]
        return item

    def _load_plan(self) -> None:
        from django_celery_beat.models import PeriodicTask

        from deployments.executions.ticks import TickTarget
        from deployments.models import Deployment

        now = timezone.now()
        tasks = {}
        for pk, kwargs, last_run_at, date_changed in PeriodicTask.objects.filter(
            task=TICK_TASK, enabled=True
        ).values_list("pk", "kwargs", "last_run_at", "date_changed"):
            try:
                deployment_id = int(json.loads(kwargs or "{}")["deployment_id"])
            except (ValueError, KeyError, TypeError):
                logger.error("ChorusScheduler: periodic task %s has no deployment_id", pk)
                continue
            tasks[deployment_id] = (pk, last_run_at, date_changed)
        rows = (
            Deployment.objects.filter(pk__in=list(tasks))
            .exclude(status=Deployment.Status.UNDEPLOYED)
            .values_list(
                "pk",
                "status",
                "schedule",
                "timezone",
                "last_tick_at",
                "starting_deadline_seconds",
                "build_id",
                "build__image_ref",
                "build__image_digest",
                "config_revision",
                "payload",
                "dst_rule",
                "component__project__slug",
                "component__name",
                "environment__slug",
                "build__runtime_kind",
            )
        )
        entries: dict[int, _Entry] = {}
        added = 0
        for row in rows:
            pk, status, expr, tz, last_tick_at, deadline, build_id, ref, digest, rev = row[:10]
            data, dst = row[10:12]
            seed = _seed_of(expr, *row[12:15])
            hold = row[15] if row[15] in HOLD_KINDS else ""
            pt_pk, last_run_at, date_changed = tasks[pk]
            target = TickTarget(
                deployment_id=pk,
                status=status,
                periodic_task_id=pt_pk,
                build_id=build_id,
                image_ref=ref or "",
                image_digest=digest or "",
                config_revision=rev,
                payload=data,
            )
            key = ((expr, seed, dst), tz, pt_pk)
            old = self._entries.get(pk)
            if old is not None and old.key == key and old.hold == hold:
                old.target, old.deadline = target, float(deadline)
                entries[pk] = old
                continue
            try:
                schedule = self._schedule_of(expr, seed, dst)
            except ValidationError as exc:
                logger.error("ChorusScheduler: deployment %s: bad schedule %r: %s", pk, expr, exc)
                continue
            if last_run_at is None:
                # The schedule was set (or changed) at date_changed: count ticks from there.
                base = max(date_changed, last_tick_at) if last_tick_at else date_changed
            else:
                base = last_tick_at or last_run_at
            base = base or now
            entry = _Entry(
                deployment_id=pk,
                key=key,
                schedule=schedule,
                tz=tz,
                deadline=float(deadline),
                target=target,
                hold=hold,
            )
            try:
                entry.next_ts = self._next_ts(entry, base)
            except ValidationError as exc:  # an @at time a timezone change made ambiguous
                logger.error("ChorusScheduler: deployment %s: %s", pk, exc)
                continue
            entries[pk] = entry
            added += 1
        self._entries = entries
        self._plan, self._plan_counts, self._hold_counts = [], Counter(), Counter()
        self._per_start = {kind: shared_per_start(kind) for kind in HOLD_KINDS}
        for entry in entries.values():
            self._push(entry)
        self._plan_dirty = False
        self._plan_loaded_at = time.monotonic()
        logger.info(
            "ChorusScheduler: %d deployment schedule(s) loaded (%d new or changed)",
            len(entries),
            added,
        )

    # --- firing ------------------------------------------------------------------------------
    def _lead(self, ts: float) -> float:
        lead = LEAD_SECONDS + min(MAX_LEAD_SECONDS, 2 * self._plan_counts[ts] * self._per_item)
        held = [
            lead_for(self._hold_counts[(ts, kind)], self._per_start.get(kind, 0.4))
            for kind in HOLD_KINDS
            if self._hold_counts[(ts, kind)]
        ]
        if held:
            return min(MAX_HELD_LEAD_SECONDS, lead + max(held))
        return min(MAX_TOTAL_LEAD_SECONDS, lead)

    def _chorus_tick(self) -> float:
        if self._plan_dirty or time.monotonic() - self._plan_loaded_at > REFRESH_SECONDS:
            self._load_plan()
        while self._plan:
            ts, deployment_id, version = self._plan[0]
            entry = self._entries.get(deployment_id)
            if entry is None or entry.version != version:
                self._pop()
                continue
            wait = ts - self._lead(ts) - time.time()
            if wait > 0:
                return min(wait, self.max_interval)
            group = []
            while self._plan and self._plan[0][0] == ts:
                _, did, ver = self._pop()
                e = self._entries.get(did)
                if e is not None and e.version == ver:
                    group.append(e)
            self._fire(ts, group)
        return self.max_interval

    def _fire(self, ts: float, group: list[_Entry]) -> None:
        from deployments.executions.ticks import catch_up, fire_tick

        tick = datetime.fromtimestamp(ts, UTC)
        now = timezone.now()
        late_by = (now - tick).total_seconds()
        ontime = [e for e in group if late_by <= e.deadline]
        late = [e for e in group if late_by > e.deadline]
        if ontime:
            started = time.monotonic()
            result = fire_tick(scheduled_for=tick, targets=[e.target for e in ontime], now=now)
            spent = time.monotonic() - started
            self._per_item = 0.7 * self._per_item + 0.3 * (spent / len(ontime))
            logger.info(
                "ChorusScheduler: tick %s: %d deployment(s), %d run(s) dispatched, %d skipped, "
                "%d already claimed, %.3f s %s the tick",
                tick.isoformat(),
                len(ontime),
                result.dispatched,
                result.skipped,
                len(ontime) - len(result.created),
                abs(ts - time.time()),
                "before" if ts > time.time() else "after",
            )
            for e in ontime:
                e.next_ts = self._next_ts(e, tick)
                self._push(e)
        for e in late:
            last = catch_up(deployment_id=e.deployment_id, first_tick=tick, now=now)
            # The next tick may already be due too: the loop handles it (late or not) next.
            e.next_ts = self._next_ts(e, max(last or tick, tick))
            self._push(e)
