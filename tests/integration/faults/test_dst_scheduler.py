"""Firing across a DST change with a real beat and two executions workers: in Europe/Berlin on
2026-10-25 the clocks go back from 03:00 CEST to 02:00 CET, so 02:00-02:59 happens twice.

A fixed-hour schedule (`*/5 2 * * *`) runs in the first 02:xx only, as cron does; a wildcard
one (`*/5 * * * *`) runs at every real occurrence, both 02:05s included. The ticks the beat
really fired (Execution rows, run by the record runtime) must be exactly the ones the
schedule preview shows a user (deployments/schedules/preview.py: next_runs).

The processes run on a controlled clock (tests/support/fakeclock.py): 60 times faster than
real time, from 00:46 UTC (02:46 CEST) to 01:12 UTC (02:12 CET), in about half a minute once
every process is ready.
"""

from __future__ import annotations

import sys
import time
from contextlib import closing
from datetime import UTC, datetime

import pytest

from tests.support.fakeclock import ENV, clock_value, fake_now, go
from tests.support.private_services import RedisServer
from tests.support.processes import Proc, process_env

from .restarts import PROCESS_ENV

pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.timeout(600)]

TZ = "Europe/Berlin"
START = datetime(2026, 10, 25, 0, 46, tzinfo=UTC)  # 02:46 CEST
END = datetime(2026, 10, 25, 1, 12, tzinfo=UTC)  # 02:12 CET, after the second 02:10
RATE = 60.0
SCHEDULES = {"fixed": "*/5 2 * * *", "wildcard": "*/5 * * * *"}
# In fake seconds: a beat loop every 6 s (0.1 s real), runs published 12 s ahead, and the
# periodic jobs and heartbeats rare, so the sped-up processes do little else.
CLOCK_ENV = {
    "CHORUS_BEAT_MAX_INTERVAL": "6",
    "CHORUS_BEAT_LEAD_SECONDS": "12",
    "CHORUS_RECONCILE_INTERVAL": "3600",
    "CHORUS_EXECUTION_STALE_SECONDS": "3600",
    "CHORUS_PROCESS_HEARTBEAT_SECONDS": "300",
}


def _start(name: str, args: list[str], env: dict[str, str], ready: str) -> Proc:
    """A Celery process on the controlled clock (as processes.start_worker/start_beat)."""
    p = Proc(name, [sys.executable, "-m", "tests.support.fakeclock", "celery", *args], env)
    p.wait_for(ready, timeout=90)
    return p


@pytest.fixture(scope="module")
def dst(django_db_setup, django_db_blocker):
    from django_celery_beat.models import PeriodicTask

    from deployments.models import Deployment, Execution
    from deployments.schedules.preview import next_runs
    from tests.integration.executions.live import snapshot
    from tests.support.fault_data import delete, seed
    from tests.support.processes import LOG_DIR

    broker = RedisServer().start()
    # The fast clock starts at START once every process is ready (fakeclock.go).
    clock = clock_value(START, LOG_DIR / f"faults-dst-go-{broker.port}", RATE)
    procs: list[Proc] = []
    with django_db_blocker.unblock(), closing(broker):
        env = process_env(
            **{**PROCESS_ENV, **CLOCK_ENV, ENV: clock},
            REDIS_URL=broker.url, CELERY_BROKER_URL=broker.url,
        )  # fmt: skip
        seeded = seed(
            {
                "prefix": "dst",
                "environments": [{"slug": "faults-dst", "order": 304, "runtime_kind": "record"}],
                "deployments": [
                    {"name": name, "environment": "faults-dst", "image": "record",
                     "schedule": expr, "timezone": TZ,
                     "policies": {"concurrency_policy": "allow",
                                  "starting_deadline_seconds": 1800},
                     "config": {"RECORD_PRINT_ENV": "0"}}
                    for name, expr in SCHEDULES.items()
                ],
            }
        )  # fmt: skip
        try:
            ids = seeded["deployments"]
            # The schedules were set at START on the controlled clock: ticks count from there.
            PeriodicTask.objects.filter(
                pk__in=Deployment.objects.filter(pk__in=ids.values()).values("periodic_task_id")
            ).update(date_changed=START, last_run_at=None)
            for n in (1, 2):
                procs.append(
                    _start(
                        f"faults-dst-worker-{n}",
                        [
                            "-A",
                            "portal",
                            "worker",
                            "--loglevel=INFO",
                            "--concurrency=8",
                            "--pool=threads",
                            "-Q",
                            "chorus,executions",
                            "-n",
                            f"faults-dst-worker-{n}@%h",
                            "--without-gossip",
                            "--without-mingle",
                        ],
                        env,
                        "ready.",
                    )  # fmt: skip
                )
            procs.append(
                _start(
                    "faults-dst-beat",
                    [
                        "-A",
                        "portal",
                        "beat",
                        "--loglevel=INFO",
                        f"--pidfile={LOG_DIR / 'faults-dst-beat.pid'}",
                        f"--schedule={LOG_DIR / 'faults-dst-beat.db'}",
                    ],
                    env,
                    "beat: Starting",
                )  # fmt: skip
            )
            go(clock)
            started_at = fake_now(clock)
            while fake_now(clock) < END.timestamp():
                time.sleep(0.2)
            procs[-1].stop()  # the beat: no tick after END
            stopped_at = fake_now(clock)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                rows = {name: snapshot(Deployment(pk=pk)) for name, pk in ids.items()}
                if all(r["status"] not in ("pending", "running") for v in rows.values() for r in v):
                    break
                time.sleep(0.5)
            previews = {
                name: next_runs(
                    Deployment.objects.get(pk=pk).parsed_schedule(), TZ, n=12, start=START
                )
                for name, pk in ids.items()
            }
            result = {
                "rows": rows,
                "previews": previews,
                "started_at": started_at,
                "stopped_at": stopped_at,
                "statuses": list(
                    Execution.objects.filter(deployment_id__in=ids.values()).values_list(
                        "status", flat=True
                    )
                ),
            }
        finally:
            for p in procs:
                p.stop()
            delete(seeded)
    return result


def _fired(dst, name) -> list[datetime]:
    return [e["scheduled_for"] for e in dst["rows"][name] if e["scheduled_for"] <= END]


def _previewed(dst, name) -> list[datetime]:
    return [r.at_utc for r in dst["previews"][name] if r.at_utc <= END]


def test_the_processes_ran_across_the_change_on_the_controlled_clock(dst):
    assert dst["started_at"] < datetime(2026, 10, 25, 0, 47, tzinfo=UTC).timestamp()
    assert dst["stopped_at"] >= END.timestamp()


def test_a_fixed_hour_schedule_fires_what_the_preview_shows(dst):
    fired = _fired(dst, "fixed")
    assert fired == _previewed(dst, "fixed")
    # 02:50 and 02:55 CEST; the repeated 02:xx (CET) does not run again.
    assert [t.astimezone(UTC).strftime("%H:%M") for t in fired] == ["00:50", "00:55"]


def test_a_wildcard_schedule_fires_what_the_preview_shows(dst):
    fired = _fired(dst, "wildcard")
    assert fired == _previewed(dst, "wildcard")
    # 02:50, 02:55 CEST, then 02:00, 02:05, 02:10 CET: the repeated hour runs again.
    assert [t.astimezone(UTC).strftime("%H:%M") for t in fired] == [
        "00:50", "00:55", "01:00", "01:05", "01:10",
    ]  # fmt: skip
    notes = {r.at_utc.strftime("%H:%M"): r.dst_note for r in dst["previews"]["wildcard"]}
    assert "happens twice" in notes["01:00"] and "the second" in notes["01:00"]


def test_every_fired_tick_ran_once(dst):
    for rows in dst["rows"].values():
        for e in rows:
            assert e["status"] == "succeeded", (e["scheduled_for"], e["status"], e["reason"])
            assert e["trigger"] == "schedule"
            starts = [t for s, t in e["log"] if t.startswith("record runtime: started")]
            assert len(starts) == 1
    assert "pending" not in dst["statuses"] and "running" not in dst["statuses"]
