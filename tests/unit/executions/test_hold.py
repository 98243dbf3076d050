"""Held runs, piece by piece: the early claim, the lead, the wrapper's line, the guard's reasons.

The whole path with a real beat, worker and Docker engine is in
tests/integration/executions/test_hold.py (and test_hold_local.py for the local runtime).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from deployments.executions.claims import Outcome, Started, claim_and_prepare
from deployments.executions.hold import _why, lead_for
from deployments.models import Deployment, Execution
from deployments.runtimes.hold import BEGAN_PREFIX, began_filter

pytestmark = pytest.mark.django_db


def test_an_early_claim_runs_the_tick_with_no_start_time_until_the_task_begins(deploy, tick):
    d = deploy(policies={"concurrency_policy": "forbid"})
    e = tick(d, at=(timezone.now() + timedelta(seconds=20)).replace(microsecond=0))
    results = claim_and_prepare([e.pk], worker="w@h", early=True)
    assert isinstance(results[e.pk], Started)
    e.refresh_from_db()
    assert e.status == "running" and e.started_at is None and e.heartbeat_at is not None


def test_a_held_run_counts_as_running_for_forbid(deploy, tick):
    d = deploy(policies={"concurrency_policy": "forbid"})
    held = tick(d, at=(timezone.now() + timedelta(seconds=20)).replace(microsecond=0))
    claim_and_prepare([held.pk], worker="w@h", early=True)
    other = tick(d, seconds_ago=1)
    assert claim_and_prepare([other.pk], worker="w@h")[other.pk] == Outcome.SKIPPED
    other.refresh_from_db()
    assert other.reason == f"overlap forbidden (execution #{held.pk} still running)"


def test_an_early_claim_waits_for_an_earlier_tick_still_pending(deploy, tick):
    """A worker just started: the overdue tick's message and the next tick's (to be held)
    arrive together. The earlier tick is decided first, never skipped for the later one."""
    d = deploy(policies={"concurrency_policy": "forbid"})
    earlier = tick(d, seconds_ago=1)
    later = tick(d, at=(timezone.now() + timedelta(seconds=20)).replace(microsecond=0))
    assert claim_and_prepare([later.pk], worker="w@h", early=True)[later.pk] == Outcome.DEFER
    assert isinstance(claim_and_prepare([earlier.pk], worker="w@h")[earlier.pk], Started)
    # At its tick the later one finds the earlier still running: the later one is the overlap.
    assert claim_and_prepare([later.pk], worker="w@h")[later.pk] == Outcome.SKIPPED
    later.refresh_from_db()
    assert later.reason == f"overlap forbidden (execution #{earlier.pk} still running)"


@pytest.mark.parametrize("policy", ["forbid", "replace"])
def test_an_early_claim_with_a_run_going_is_left_for_the_tick(deploy, tick, policy):
    d = deploy(policies={"concurrency_policy": policy})
    going = tick(d, seconds_ago=5)
    claim_and_prepare([going.pk], worker="w@h")
    nxt = tick(d, at=(timezone.now() + timedelta(seconds=20)).replace(microsecond=0))
    assert claim_and_prepare([nxt.pk], worker="w@h", early=True)[nxt.pk] == Outcome.DEFER
    nxt.refresh_from_db()
    going.refresh_from_db()
    # Nothing decided yet: the run going may end before the tick.
    assert nxt.status == "pending" and (going.status, going.cancel_requested) == ("running", False)


def test_the_lead_grows_with_the_group_and_the_start_rate_up_to_a_cap(settings):
    settings.CHORUS_HOLD_MARGIN_SECONDS = 1.0
    assert lead_for(1, 0.2) < lead_for(10, 0.2) < lead_for(10, 0.4) < lead_for(50, 0.4)
    assert lead_for(10, 0.2) == pytest.approx(1.0 + 10 * 0.2 * 1.5)
    assert lead_for(10_000, 0.2) == 50.0


def test_the_wrappers_line_becomes_the_begin_time_and_only_the_first_one():
    lines, begins = [], []
    log = began_filter(lambda text, stream="stdout": lines.append((stream, text)), begins.append)
    log("out first", "stdout")
    log(f"{BEGAN_PREFIX} 1796156929.008271", "stderr")
    log(f"{BEGAN_PREFIX} 1.0", "stderr")  # the task printing the same text later
    assert begins == [1796156929.008271]
    assert lines == [("stdout", "out first"), ("stderr", f"{BEGAN_PREFIX} 1.0")]


def test_without_the_wrappers_line_the_first_stderr_line_is_the_tasks():
    lines, begins = [], []
    log = began_filter(lambda text, stream="stdout": lines.append((stream, text)), begins.append)
    log("warning: odd", "stderr")
    assert begins == [] and lines == [("stderr", "warning: odd")]


def test_the_guard_says_why_a_held_run_must_not_go_ahead():
    before = ("active", 7, "* * * * *", "UTC", "cron")
    assert _why(before, before) == ""
    assert _why(before, ("suspended", *before[1:])).startswith("suspended before its tick")
    assert _why(before, ("undeployed", *before[1:])).startswith("undeployed before its tick")
    assert _why(before, ("active", 8, *before[2:])).startswith("a new build was deployed")
    changed = ("active", 7, "*/5 * * * *", "UTC", "cron")
    assert _why(before, changed).startswith("its schedule changed")
    assert _why(before, None) == "deployment deleted before its tick"
    assert Deployment.Status.SUSPENDED == "suspended"


@pytest.mark.parametrize(("kind", "held"), [("docker", "'docker'"), ("", None)])
def test_a_docker_built_run_due_later_is_published_to_be_held(deploy, make_build, tick, kind, held):
    import json
    import os

    import redis

    from deployments.executions.dispatch import publish_runs

    broker = redis.Redis.from_url(os.environ["REDIS_URL"])
    broker.delete("executions")
    d = deploy(build=make_build(runtime_kind=kind))
    e = tick(d, at=(timezone.now() + timedelta(seconds=20)).replace(microsecond=0))
    broker.delete("executions")  # only what publish_runs sends below
    publish_runs([(e.pk, "t-1", e.scheduled_for)])
    (message,) = [json.loads(m)["headers"] for m in broker.lrange("executions", 0, -1)]
    broker.delete("executions")
    assert message["argsrepr"] == f"({e.pk},)"
    assert (
        ("'hold': " + held in message["kwargsrepr"])
        if held
        else "hold" not in message["kwargsrepr"]
    )
    assert Execution.objects.get(pk=e.pk).status == "pending"


def test_a_held_run_whose_container_started_after_its_tick_says_so(deploy, tick):
    import time

    from deployments.executions.watch import RunWatch

    d = deploy()
    e = tick(d, at=(timezone.now() + timedelta(seconds=20)).replace(microsecond=0))
    (started,) = claim_and_prepare([e.pk], worker="w@h", early=True).values()
    lines: list[tuple[str, str]] = []

    def watch_for(hold_until: float) -> RunWatch:
        lines.clear()
        started.hold_until = hold_until
        watch = RunWatch(
            started.execution, started, lambda text, stream: lines.append((stream, text))
        )
        watch.held = True
        return watch

    # The engine started it in time: the task is held, nothing more to say.
    watch_for(time.time() + 5).on_start("c" * 64)
    assert lines == []
    # The engine was slow: the container started 3 s after the tick, so nothing was held.
    watch_for(time.time() - 3).on_start("c" * 64)
    ((stream, text),) = lines
    assert stream == "chorus"
    assert text.startswith("[chorus] the engine started the container 3.")
    assert text.endswith(" s after the tick: the task begins at once, not held")
