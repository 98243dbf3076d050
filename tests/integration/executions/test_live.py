"""Executions with a real beat (ChorusScheduler) and a real worker, against PostgreSQL, Redis
and the Docker engine: a cron deployment runs a container every minute, a timeout kills a
sleeping container, retries back off and stop, Forbid records the overlapping tick, and a
schedule change reaches the running beat within a second.

One scenario (see live.py) runs all of it at once — the cron ticks take a minute each — and
each test checks one behaviour in its snapshot.
"""

from __future__ import annotations

import time
from datetime import UTC, timedelta

import pytest

from tests.support.factories import sample_component
from tests.support.processes import flush_broker, start_beat, start_worker

from .live import PROCESS_ENV, Created, containers_of, snapshot, task_image, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]

CRON_SCRIPT = (
    'echo "hello from execution $CHORUS_EXECUTION_ID tick $CHORUS_SCHEDULED_AT"; '
    'echo "warning: something odd" >&2; exit 3'
)
SLEEP_SCRIPT = "echo sleeping; sleep 300"
PARTIAL = '{"status": "partial", "summary": "synced 118 of 120", "stats": {"rows": 118}}'
METRICS_TOKEN = "live-metrics-token"


def partial_series(deployment) -> dict:
    """What the dashboard draws for the deployment over the last 24 hours."""
    from observability.selectors.dashboard import dashboard_for, parse_range
    from observability.views.dashboard import chart_payload

    data = dashboard_for(deployment=deployment, time_range=parse_range("24h"))
    payload = chart_payload(
        data=data, project=deployment.component.project, component=deployment.component,
        env_slug=deployment.environment.slug,
    )  # fmt: skip
    return {key: sum(values) for key, values in payload["series"].items()}


def scrape_metrics() -> str:
    from django.test import Client, override_settings

    with override_settings(CHORUS_METRICS_TOKEN=METRICS_TOKEN):
        response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    return response.content.decode()


def live_component(project, user, name):
    return sample_component(project, name, created_by=user, entry_command="sh")


def live_build(component, image: str, n: int):
    from django.utils import timezone

    from deployments.models import Build

    return Build.objects.create(
        component=component,
        commit_sha=f"{n:040x}",
        status=Build.Status.SUCCEEDED,
        preset="python",
        image_ref=image,
        image_digest=f"sha256:{n:064x}",
        finished_at=timezone.now(),
    )


@pytest.fixture(scope="module")
def live(django_db_setup, django_db_blocker):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from deployments.deploy.services.config import config_set
    from deployments.deploy.services.lifecycle import deployment_deploy
    from deployments.executions.actions import execution_run_now
    from deployments.models import Environment, Execution
    from observability.models import HourlyRollup
    from portal.services import project_create

    cron_image = task_image(CRON_SCRIPT)
    sleep_image = task_image(SLEEP_SCRIPT)
    with django_db_blocker.unblock():
        created = Created()
        try:
            # Environments of its own (not the migration's Development): this scenario decides
            # their runtimes, and other tests' flushes cannot take them away.
            dev = Environment.objects.create(
                name="Docker live", slug="docker-live", order=93, runtime_kind="docker"
            )
            created.environments.append(dev)
            record = Environment.objects.create(
                name="Record", slug="record-live", order=91, runtime_kind="record"
            )
            created.environments.append(record)
            owner = get_user_model().objects.create_user("live-owner", password="x-live-pass-1")
            created.users.append(owner)
            project = project_create(name="Live executions", actor=owner)
            created.projects.append(project)

            def deploy(name, env, image, schedule, policies=None, config=None, n=0):
                c = live_component(project, owner, name)
                for key, value in (config or {}).items():
                    config_set(
                        component=c, environment=env, key=key, value=value, is_secret=False,
                        actor=owner,
                    )  # fmt: skip
                return deployment_deploy(
                    component=c, environment=env, build=live_build(c, image, n), schedule=schedule,
                    timezone="UTC", actor=owner, policies=policies,
                )  # fmt: skip

            cron = deploy(
                "cron", dev, cron_image, "* * * * *", {"concurrency_policy": "allow"}, n=1
            )
            sleeper = deploy("sleeper", dev, sleep_image, "0 0 1 1 *", {"timeout_seconds": 2}, n=2)
            retry = deploy(
                "retry", record, "record", "@every 30s",
                {"max_retries": 2, "retry_delay_seconds": 2}, {"RECORD_EXIT_CODE": "1"}, n=3,
            )  # fmt: skip
            forbid = deploy(
                "forbid", record, "record", "@every 2s", {"concurrency_policy": "forbid"},
                {"RECORD_SLEEP": "5"}, n=4,
            )  # fmt: skip
            pickup = deploy("pickup", record, "record", "0 0 1 1 *", n=5)
            # Once, at the start of a minute 10 to 70 s from now (while the cron runs come).
            once_at = (timezone.now() + timedelta(seconds=70)).replace(second=0, microsecond=0)
            once = deploy("once", record, "record", f"@at {once_at:%Y-%m-%dT%H:%M}", n=6)
            partial = deploy(
                "partial", record, "record", "@every 20s", config={"RECORD_RESULT": PARTIAL}, n=7
            )

            flush_broker()
            worker = start_worker(
                "exec-live-worker",
                pool="threads",
                concurrency=20,
                queues="chorus,executions",
                extra_env=PROCESS_ENV,
            )
            beat = start_beat("exec-live-beat", extra_env=PROCESS_ENV)
            try:
                timed = execution_run_now(deployment=sleeper, actor=owner)
                # The beat is running: change a schedule and time until its first tick exists.
                time.sleep(2)
                changed_at = timezone.now()
                deployment_deploy(
                    component=pickup.component, environment=record, build=pickup.build,
                    schedule="@every 1s", timezone="UTC", actor=owner,
                )  # fmt: skip
                first_pickup = wait_until(
                    lambda: (
                        Execution.objects.filter(deployment=pickup).order_by("queued_at").first()
                    ),
                    timeout=10,
                    what="the changed schedule's first tick",
                )

                def cron_done():
                    return (
                        Execution.objects.filter(
                            deployment=cron, status__in=Execution.FINISHED
                        ).count()
                        >= 2
                    )

                wait_until(cron_done, timeout=150, step=1, what="two cron runs")
                wait_until(
                    lambda: Execution.objects.filter(
                        deployment=once, status__in=Execution.FINISHED
                    ).exists(),
                    timeout=90,
                    what="the one-off run",
                )
                wait_until(
                    lambda: Execution.objects.filter(
                        deployment=retry, attempt=3, status__in=Execution.FINISHED
                    ).exists(),
                    timeout=60,
                    what="the third attempt",
                )
                wait_until(
                    lambda: Execution.objects.get(pk=timed.pk).is_finished,
                    timeout=30,
                    what="the timed-out run",
                )
                # The worker's observability hook folds each partial run into its hour.
                wait_until(
                    lambda: HourlyRollup.objects.filter(
                        deployment=partial, partial__gte=1
                    ).exists(),
                    timeout=60,
                    what="a partial run in the rollups",
                )
                result = {
                    "cron": snapshot(cron),
                    "sleeper": snapshot(sleeper),
                    "retry": snapshot(retry),
                    "forbid": snapshot(forbid),
                    "pickup_delay": (first_pickup.queued_at - changed_at).total_seconds(),
                    "once_at": once_at,
                    "partial": snapshot(partial),
                    "partial_rollup": sum(
                        HourlyRollup.objects.filter(deployment=partial).values_list(
                            "partial", flat=True
                        )
                    ),
                    "partial_series": partial_series(partial),
                    "metrics": scrape_metrics(),
                    "max_retries": 2,
                }
            finally:
                beat.stop()
                worker.stop()
            result["containers"] = {
                e["pk"]: containers_of(e["pk"]) for e in result["cron"] + result["sleeper"]
            }
            result["beat_log"] = beat.output()
            # Snapshot after the processes stopped: beat had every chance to fire it again.
            result["once"] = snapshot(once)
            once.refresh_from_db()
            result["once_done"] = once.is_done
        finally:
            created.delete()
    return result


def test_a_cron_deployment_runs_a_real_container_every_minute(live):
    runs = [e for e in live["cron"] if e["status"] not in ("pending", "running")]
    assert len(runs) >= 2
    for e in runs[:2]:
        assert e["trigger"] == "schedule"
        assert e["scheduled_for"].second == 0 and e["scheduled_for"].microsecond == 0
        assert (e["status"], e["exit_code"], e["reason"]) == ("failed", 3, "exit code 3")
        tick = e["scheduled_for"].isoformat()
        assert ("stdout", f"hello from execution {e['pk']} tick {tick}") in e["log"]
        assert ("stderr", "warning: something odd") in e["log"]
        assert e["container_id"] and live["containers"][e["pk"]] == []
        # Started at or after its tick and before the next one; how *precisely* it fires is
        # measured by tests/bench/fire_lag.py, not asserted here (timings are noisy on 2 cores).
        assert 0 <= e["fire_lag"] < 60
    assert runs[1]["scheduled_for"] - runs[0]["scheduled_for"] == timedelta(minutes=1)


def test_a_timeout_kills_a_sleeping_container(live):
    (e,) = live["sleeper"]
    assert e["trigger"] == "manual"
    assert e["status"] == "timed_out"
    assert e["reason"] == "timed out after 2 s (the task was killed)"
    assert ("stdout", "sleeping") in e["log"]
    assert (e["finished_at"] - e["started_at"]).total_seconds() < 20
    assert live["containers"][e["pk"]] == []


def test_retries_back_off_exponentially_and_stop_at_the_maximum(live):
    first_tick = live["retry"][0]["scheduled_for"]
    chain = [e for e in live["retry"] if e["scheduled_for"] == first_tick]
    assert [e["attempt"] for e in chain] == [1, 2, 3]
    assert [e["trigger"] for e in chain] == ["schedule", "retry", "retry"]
    assert all(e["status"] == "failed" and e["exit_code"] == 1 for e in chain)
    for prev, nxt, delay in ((chain[0], chain[1], 2), (chain[1], chain[2], 4)):
        assert nxt["parent_id"] == prev["pk"]
        assert abs((nxt["due_at"] - prev["finished_at"]).total_seconds() - delay) < 0.5
        assert nxt["started_at"] >= nxt["due_at"]
    assert any("no retry left (2 retries allowed)" in text for _, text in chain[2]["log"])


def test_forbid_skips_and_records_the_overlapping_tick(live):
    rows = live["forbid"]
    ran = {e["pk"]: e for e in rows if e["started_at"] and e["status"] != "skipped"}
    skipped = [e for e in rows if e["status"] == "skipped"]
    assert ran and skipped
    assert any(e["status"] == "succeeded" for e in ran.values())
    for e in skipped:
        assert e["reason"].startswith("overlap forbidden (execution #")
        blocker = ran.get(int(e["reason"].split("#")[1].split(" ")[0]))
        assert blocker is not None
        # The tick came while the blocker ran (it sleeps 5 s per run): an earlier tick, not
        # finished yet. (Its started_at is its container's start, which a loaded engine can
        # delay by seconds after the claim; the claim is what Forbid looks at.)
        assert blocker["scheduled_for"] < e["scheduled_for"]
        assert blocker["finished_at"] is None or e["scheduled_for"] <= blocker["finished_at"]
    # Never two runs at once.
    spans = sorted((e["started_at"], e["finished_at"]) for e in ran.values() if e["finished_at"])
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert start >= end


def test_a_schedule_change_reaches_the_running_beat_without_a_restart(live):
    # Beat looks for changes every CHORUS_BEAT_MAX_INTERVAL (0.5 s); the bound here only leaves
    # room for a loaded CI machine — the benchmark reports the real pickup figure.
    assert live["pickup_delay"] < 5
    assert "ChorusScheduler: tick" in live["beat_log"]


def test_a_one_off_deployment_fires_once_at_its_time(live):
    runs = live["once"]
    assert [(e["scheduled_for"], e["trigger"], e["status"]) for e in runs] == [
        (live["once_at"].astimezone(UTC), "schedule", "succeeded")
    ]
    assert 0 <= runs[0]["fire_lag"] < 30
    assert live["once_done"] is True


def test_a_partial_result_shows_in_the_execution_the_dashboard_and_metrics(live):
    finished = [e for e in live["partial"] if e["status"] not in ("pending", "running")]
    assert finished and {e["status"] for e in finished} == {"partial"}
    assert all(e["exit_code"] == 0 for e in finished)
    assert finished[0]["result"] == {
        "status": "partial", "summary": "synced 118 of 120", "stats": {"rows": 118},
    }  # fmt: skip
    assert live["partial_rollup"] >= 1
    assert live["partial_series"]["partial"] == live["partial_rollup"]
    assert live["partial_series"]["succeeded"] == 0
    totals = {
        line.split('status="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in live["metrics"].splitlines()
        if line.startswith("chorus_executions_total") and 'component="partial"' in line
    }
    assert totals["partial"] == live["partial_rollup"]
    assert totals["succeeded"] == totals["failed"] == 0
