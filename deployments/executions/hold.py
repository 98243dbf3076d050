"""Runs started ahead of their tick and held until it (docs/executions.md, "Held until the tick").

A Docker engine starts a few containers a second (docs/performance.md), so a group of runs due
at one instant is started *before* it: the worker claims the group early, starts every
container at once, and a wrapper in each one holds the task until the tick
(deployments/runtimes/hold.py). How early is the lead:

    lead(n) = margin + n × seconds-per-start × SAFETY   (at most MAX_LEAD_SECONDS)

where seconds-per-start is measured as containers start: a held group's span from the claim to
its last container running, divided by its size, folded into a moving average per runtime
kind (`StartRate`). Workers share it through Django's cache, so beat, which publishes the runs
ahead of the lead (scheduler.py), knows it too.

While held, a run counts as running (it was claimed: status running, no start time yet), so
concurrency Forbid and Replace see it like any other run. `guard` watches the held runs'
deployments until the tick: one suspended, undeployed or deleted, given a new build or a new
schedule during the lead has its held containers removed, and its execution ends skipped with
the reason, never run.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings

logger = logging.getLogger(__name__)

# Builds of these runtime kinds run held (the record runtime starts nothing to hold).
HOLD_KINDS = ("docker", "local")
SAFETY = 1.5
# At most this early: with the scheduler's own lead a message must still arrive less than
# run.EARLY_WAIT_MAX (60 s) before its tick.
MAX_LEAD_SECONDS = 50.0
# Runs of one instant arriving after the lead began give each other this long to join.
GATHER_SECONDS = 0.1
GUARD_POLL_SECONDS = 0.25
# The guard's last look is this long before the tick (a change after it is too late: the run
# goes ahead, as it would had the change come just after the tick).
GUARD_LAST_LOOK = 0.05
CACHE_KEY = "chorus:hold:seconds-per-start:{kind}"
CACHE_SECONDS = 24 * 3600


def _default_per_start() -> float:
    return float(getattr(settings, "CHORUS_HOLD_SECONDS_PER_START", 0.4))


def lead_for(n: int, per_start: float) -> float:
    """Seconds before the tick a group of `n` held runs starts (the margin is
    CHORUS_HOLD_MARGIN_SECONDS: claiming and preparing)."""
    margin = float(getattr(settings, "CHORUS_HOLD_MARGIN_SECONDS", 1.0))
    return min(MAX_LEAD_SECONDS, margin + max(n, 1) * per_start * SAFETY)


class StartRate:
    """Seconds per start of each runtime kind, measured on held groups (a moving average)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._per_start: dict[str, float] = {}

    def per_start(self, kind: str) -> float:
        with self._lock:
            known = self._per_start.get(kind)
        return known if known is not None else shared_per_start(kind)

    def lead(self, kind: str, n: int) -> float:
        return lead_for(n, self.per_start(kind))

    def measured(self, kind: str, n: int, span: float) -> None:
        sample = min(5.0, max(0.001, span / max(n, 1)))
        with self._lock:
            old = self._per_start.get(kind)
            value = sample if old is None else 0.6 * old + 0.4 * sample
            self._per_start[kind] = value
        logger.info(
            "held %d %s run(s) started in %.2f s: %.3f s per start (estimate %.3f s)",
            n,
            kind,
            span,
            sample,
            value,
        )
        try:
            from django.core.cache import cache

            cache.set(CACHE_KEY.format(kind=kind), value, CACHE_SECONDS)
        except Exception:  # noqa: BLE001 - the estimate is a hint; the run matters more
            logger.debug("could not share the start rate", exc_info=True)


def shared_per_start(kind: str) -> float:
    """What the workers measured (through the cache), else CHORUS_HOLD_SECONDS_PER_START."""
    try:
        from django.core.cache import cache

        value = cache.get(CACHE_KEY.format(kind=kind))
    except Exception:  # noqa: BLE001 - no cache: the default
        value = None
    return float(value) if value else _default_per_start()


rate = StartRate()


class HeldGroup:
    """The held runs of one batch: when the last one is running, the span is measured."""

    def __init__(self, kind: str, due: float, n: int) -> None:
        self.kind, self.due, self.n = kind, due, n
        self.began = time.monotonic()
        self.left = n
        self._lock = threading.Lock()

    def started_one(self) -> None:
        with self._lock:
            self.left -= 1
            last = self.left == 0
        if last and self.n:
            rate.measured(self.kind, self.n, time.monotonic() - self.began)


# --- the guard ---------------------------------------------------------------------------------
_WATCHED = ("status", "build_id", "schedule", "timezone", "dst_rule")


def _why(before: tuple | None, now: tuple | None) -> str:
    """Why a held run must not go ahead ("" when it may)."""
    from deployments.models import Deployment

    if now is None:
        return "deployment deleted before its tick"
    status, build_id, schedule, tz, dst = now
    if status == Deployment.Status.SUSPENDED:
        return "suspended before its tick (the held container was removed)"
    if status == Deployment.Status.UNDEPLOYED:
        return "undeployed before its tick (the held container was removed)"
    if before is None:
        return ""
    if build_id != before[1]:
        return "a new build was deployed before its tick (the held container was removed)"
    if (schedule, tz, dst) != before[2:]:
        return "its schedule changed before its tick (the held container was removed)"
    return ""


def guard(due: float, members: list) -> None:
    """Until just before `due`, withdraw the held runs (claims.Started with a run.py plan)
    whose deployment changed. Runs in its own thread, started by the batch's leader."""
    from deployments.executions.watch import release_connection
    from deployments.models import Deployment

    by_deployment: dict[int, list] = {}
    before: dict[int, tuple] = {}
    for m in members:
        d = m.execution.deployment
        by_deployment.setdefault(d.pk, []).append(m)
        before[d.pk] = tuple(getattr(d, f) for f in _WATCHED)
    try:
        while by_deployment:
            left = due - GUARD_LAST_LOOK - time.time()
            if left <= 0:
                break
            time.sleep(min(GUARD_POLL_SECONDS, left))
            current = {
                row[0]: tuple(row[1:])
                for row in Deployment.objects.filter(pk__in=list(by_deployment)).values_list(
                    "pk", *_WATCHED
                )
            }
            for pk in list(by_deployment):
                reason = _why(before.get(pk), current.get(pk))
                if reason:
                    for m in by_deployment.pop(pk):
                        withdraw(m, reason)
    except Exception:  # noqa: BLE001 - the runs go ahead; only the guard is lost
        logger.exception("the hold guard of %d run(s) failed", len(members))
    finally:
        release_connection()


def withdraw(member, reason: str) -> None:
    """Stop a held run before its tick: its thread ends it as skipped with `reason`."""
    plan = member.plan
    if plan is None:
        return
    plan.withdrawn = reason
    plan.watch.stop = True  # the runtime's cancel callback says stop at its next look
    container_id = member.execution.container_id
    if container_id and plan.runtime is not None:
        try:
            plan.runtime.stop(container_id)
        except Exception:  # noqa: BLE001 - the run's own cancel check stops it next
            logger.exception("could not remove the held container %s", container_id[:12])
    logger.info("execution %s withdrawn: %s", member.execution.pk, reason)
