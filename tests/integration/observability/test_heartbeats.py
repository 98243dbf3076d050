"""Real beat and worker processes check in; a clean stop removes them at once, a killed one
goes stale, and the overview says so."""

from __future__ import annotations

import time

import pytest

from observability.heartbeats import platform_health
from observability.models import ProcessHeartbeat
from tests.support.processes import flush_broker, running, start_beat, start_worker

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FAST = {"CHORUS_PROCESS_HEARTBEAT_SECONDS": "0.5"}


def wait_until(check, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def kinds() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for kind, queues in ProcessHeartbeat.objects.values_list("kind", "queues"):
        out.setdefault(kind, []).append(queues)
    return out


def test_beat_and_worker_check_in_and_say_goodbye(settings):
    settings.CHORUS_PROCESS_STALE_SECONDS = 3
    flush_broker()
    worker = lambda: start_worker(  # noqa: E731
        "hb-worker", pool="threads", concurrency=2, queues="chorus,executions", extra_env=FAST
    )
    beat = lambda: start_beat("hb-beat", extra_env=FAST)  # noqa: E731
    with running(worker, beat) as (w, b):
        wait_until(lambda: platform_health().ok, what="beat and worker to check in")
        assert kinds()["worker"] == ["chorus,executions"]
        seen = ProcessHeartbeat.objects.get(kind="beat").last_seen
        wait_until(
            lambda: ProcessHeartbeat.objects.get(kind="beat").last_seen > seen,
            what="beat to check in again",
        )

        b.kill()  # SIGKILL: no goodbye, the row goes stale
        assert "beat" in kinds()
        wait_until(
            lambda: any(
                "scheduler (beat) last checked in" in p for p in platform_health().problems
            ),
            timeout=15,
            what="the stale beat to be reported",
        )

        w.stop()  # SIGTERM: a clean stop removes the worker's row at once
        wait_until(lambda: "worker" not in kinds(), timeout=30, what="the worker's row to go")
        assert any(
            p.startswith("No worker of the executions queue has checked in")
            for p in platform_health().problems
        )

    # A beat stopped cleanly says goodbye too (ChorusScheduler.close).
    beats_before = ProcessHeartbeat.objects.filter(kind="beat").count()
    with running(lambda: start_beat("hb-beat2", extra_env=FAST)) as (b2,):
        wait_until(
            lambda: ProcessHeartbeat.objects.filter(kind="beat").count() == beats_before + 1,
            what="the second beat to check in",
        )
        b2.stop()
        wait_until(
            lambda: ProcessHeartbeat.objects.filter(kind="beat").count() == beats_before,
            timeout=30,
            what="the second beat's row to go",
        )
