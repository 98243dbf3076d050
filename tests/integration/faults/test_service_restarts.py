"""Services restarted under a running Chorus: Redis and PostgreSQL restarted while ticks fire
(no tick lost or doubled), and the Docker engine restarted while runs are in progress (each
run ends with a clear reason, nothing stays running).

Real processes throughout: a beat and two executions workers per scenario, Docker containers
counted per execution from the engine's own events (restarts.py). The machine's Redis and
PostgreSQL serve every other test, so each scenario has a redis-server and a PostgreSQL
cluster of its own (tests/support/private_services.py); the restarted engine is engine B,
which only the tests of many hosts use. The three scenarios are independent and run at the
same time; each test checks one promise in their snapshots.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest

from tests.support.container_events import engine_client
from tests.support.private_services import PostgresCluster, RedisServer, restart_engine_b
from tests.support.registry import DOCKER_B, DOCKER_B_NETWORK

from .restarts import Db, Outcome, run_scenario, task_image

# django_db: pytest-django creates the test database only for modules that ask for it.
pytestmark = [pytest.mark.integration, pytest.mark.django_db, pytest.mark.timeout(900)]

TICK_SCRIPT = 'echo "tick $CHORUS_SCHEDULED_AT"'
# Ends at once on SIGTERM (an engine stopping sends it), else runs 6 s.
LONG_SCRIPT = "trap 'echo terminated; exit 143' TERM; echo started; sleep 6 & wait $!; echo done"
# A generous deadline: these scenarios are about ticks lost or doubled, not late on a busy
# machine (a Docker run may take seconds there).
EVERY_2S = {"concurrency_policy": "allow", "starting_deadline_seconds": 120}


# How Chorus ends a run when the engine itself does not answer (not the fault under test).
ENGINE_SLOW = ("Docker engine not reachable at ", "Lost the connection to the Docker engine at ")


def _installation(name: str) -> str:
    return f"faults-{name}-{uuid.uuid4().hex[:8]}"


def _ticking(prefix: str, image: str, order: int, n: int = 2) -> dict:
    return {
        "prefix": prefix,
        "environments": [{"slug": f"faults-{prefix}", "order": order, "runtime_kind": "docker"}],
        "deployments": [
            {"name": f"{prefix}-{i}", "environment": f"faults-{prefix}", "image": image,
             "schedule": "@every 2s", "policies": EVERY_2S}
            for i in range(1, n + 1)
        ],
    }  # fmt: skip


def _own_database() -> PostgresCluster:
    """A PostgreSQL cluster of the scenario's own: its beat schedules every deployment in its
    database, so scenarios sharing one would run each other's ticks."""
    cluster = PostgresCluster()
    try:
        cluster.start()
        cluster.manage("migrate", "--noinput")
    except BaseException:
        cluster.close()
        raise
    return cluster


def _redis_restarted(image: str) -> Outcome:
    broker = RedisServer().start()
    cluster = _own_database()
    try:
        return run_scenario(
            "redis", spec=_ticking("redis", image, 301), broker_url=broker.url,
            installation=_installation("redis"), db=Db(cluster.url),
            fault=lambda counter: broker.restart(1.0),
        )  # fmt: skip
    finally:
        cluster.close()
        broker.close()


def _postgres_restarted(image: str) -> Outcome:
    broker = RedisServer().start()
    cluster = _own_database()
    try:
        return run_scenario(
            "postgres", spec=_ticking("postgres", image, 302), broker_url=broker.url,
            installation=_installation("postgres"), db=Db(cluster.url),
            fault=lambda counter: cluster.restart(), settle_timeout=60,
        )  # fmt: skip
    finally:
        cluster.close()
        broker.close()


def _dockerd_restarted(image: str) -> Outcome:
    broker = RedisServer().start()
    spec = {
        "prefix": "dockerd",
        "environments": [
            {"slug": "faults-dockerd", "order": 303, "runtime_kind": "docker",
             "docker_host": DOCKER_B, "docker_network": DOCKER_B_NETWORK}
        ],
        "deployments": [
            {"name": "dockerd-long", "environment": "faults-dockerd", "image": image,
             "schedule": "@every 3s", "policies": {**EVERY_2S, "timeout_seconds": 60}}
        ],
    }  # fmt: skip

    def restart(counter) -> None:
        restart_engine_b()
        counter.resume()

    cluster = _own_database()
    try:
        return run_scenario(
            "dockerd", spec=spec, broker_url=broker.url, installation=_installation("dockerd"),
            db=Db(cluster.url), docker_url=DOCKER_B, fault=restart, before=8.0, after=10.0,
        )  # fmt: skip
    finally:
        cluster.close()
        broker.close()


def _in_thread(fn, *args):
    from django.db import connections

    try:
        return fn(*args)
    finally:
        connections.close_all()


@pytest.fixture(scope="module")
def restarts(django_db_setup, django_db_blocker):
    a = engine_client()
    b = engine_client(DOCKER_B)
    try:
        tick_image = task_image(a, TICK_SCRIPT, "chorus/test-faults:tick")
        long_image = task_image(b, LONG_SCRIPT, "chorus/test-faults:long")
    finally:
        a.close()
        b.close()
    with django_db_blocker.unblock(), ThreadPoolExecutor(3) as pool:
        futures = {
            "redis": pool.submit(_in_thread, _redis_restarted, tick_image),
            "postgres": pool.submit(_in_thread, _postgres_restarted, tick_image),
            "dockerd": pool.submit(_in_thread, _dockerd_restarted, long_image),
        }
        results = {}
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except Exception as exc:  # noqa: BLE001 - that scenario's tests fail with it
                results[name] = exc
        return results


def _outcome(restarts, name: str) -> Outcome:
    """The scenario's outcome; its failure (not another scenario's) fails its tests."""
    outcome = restarts[name]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


# --- Redis and PostgreSQL: every tick once, one container each ------------------------------------
def _checked(outcome: Outcome) -> dict[int, list[dict]]:
    """The rows of the ticks the scenario looks at (Outcome.since to Outcome.until)."""
    return {
        pk: [e for e in rows if outcome.since <= e["scheduled_for"].timestamp() <= outcome.until]
        for pk, rows in outcome.rows.items()
    }


def _ticks_once(outcome: Outcome) -> None:
    from deployments.schedules.parsing import parse_schedule

    for rows in _checked(outcome).values():
        ticks = [e["scheduled_for"] for e in rows if e["attempt"] == 1]
        assert len(ticks) == len(set(ticks)), "a tick has two executions"
        expected = parse_schedule("@every 2s").ticks_between(
            ticks[0] - timedelta(microseconds=1), ticks[-1]
        )
        assert ticks == expected, "a tick has no execution"
        # The fault happened in the middle of the ticks, not before or after them all.
        assert ticks[0].timestamp() < outcome.fault_at < outcome.back_at < ticks[-1].timestamp()


def _every_tick_ran_in_one_container(outcome: Outcome) -> None:
    known = {e["pk"] for rows in outcome.rows.values() for e in rows}
    assert set(outcome.containers) <= known, "a container for no execution of these"
    assert all(n == 1 for n in outcome.containers.values()), outcome.containers
    ran_after = 0
    for rows in _checked(outcome).values():
        for e in rows:
            if e["status"] != "succeeded":
                # Only the engine may fail a run here (a busy machine's engine can be slow to
                # answer); the restarted service never loses one.
                assert e["status"] == "failed" and e["reason"].startswith(ENGINE_SLOW), (
                    e["scheduled_for"], e["status"], e["reason"],
                )  # fmt: skip
                continue
            ran_after += e["scheduled_for"].timestamp() > outcome.back_at
            # Never a second container (a busy engine's event stream may miss a create, so the
            # run's own output above is what shows that it ran).
            assert outcome.containers[e["pk"]] <= 1, (e["pk"], outcome.containers[e["pk"]])
            # The task ran for its own tick (CHORUS_SCHEDULED_AT), once.
            out = [t for s, t in e["log"] if s == "stdout"]
            assert len(out) == 1 and out[0].startswith("tick "), (e["reason"], e["log"])
            assert datetime.fromisoformat(out[0].removeprefix("tick ")) == e["scheduled_for"]
    assert ran_after, "no tick ran after the restart"
    assert outcome.left == []


def test_redis_restarted_during_ticks_loses_and_doubles_no_tick(restarts):
    _ticks_once(_outcome(restarts, "redis"))


def test_redis_restarted_the_workers_reconnect_and_keep_running(restarts):
    outcome = _outcome(restarts, "redis")
    assert outcome.exited == [], outcome.exited
    for name, output in outcome.logs.items():
        assert "Unrecoverable error" not in output, name
        if "worker" in name:
            # Each worker lost the broker, came back to it and ran ticks after the restart.
            assert "Connection to broker lost" in output, name
            after = output.split("Connection to broker lost", 1)[1]
            assert "Connected to redis://" in after, name
            assert "succeeded in" in after.split("Connected to redis://", 1)[1], name


def test_redis_restarted_during_ticks_every_tick_ran_once(restarts):
    _every_tick_ran_in_one_container(_outcome(restarts, "redis"))


def test_postgres_restarted_during_ticks_loses_and_doubles_no_tick(restarts):
    _ticks_once(_outcome(restarts, "postgres"))


def test_postgres_restarted_during_ticks_every_tick_ran_once(restarts):
    _every_tick_ran_in_one_container(_outcome(restarts, "postgres"))


# --- dockerd ------------------------------------------------------------------------------------
ENGINE_GONE = (
    f"Lost the connection to the Docker engine at {DOCKER_B} (",
    f"Docker engine not reachable at {DOCKER_B} (",
)


def _dockerd_rows(outcome: Outcome) -> list[dict]:
    return [e for rows in _checked(outcome).values() for e in rows]


def test_dockerd_restarted_mid_run_leaves_nothing_running(restarts):
    outcome = _outcome(restarts, "dockerd")
    rows = [e for rows in outcome.rows.values() for e in rows]
    assert [e for e in _dockerd_rows(outcome) if e["status"] in ("pending", "running")] == []
    assert all(outcome.containers[e["pk"]] <= 1 for e in rows)
    assert outcome.left == [], "a container of the scenario is left on the engine"


def test_dockerd_restarted_mid_run_ends_the_runs_saying_why(restarts):
    outcome = _outcome(restarts, "dockerd")
    failed = [e for e in _dockerd_rows(outcome) if e["status"] != "succeeded"]
    # Runs were in progress (their container had started and printed) when the engine stopped.
    cut = [e for e in failed if ("stdout", "started") in e["log"]]
    assert cut, "no run was in progress when the engine stopped"
    for e in failed:
        assert e["status"] == "failed", (e["status"], e["reason"])
        if e["reason"] == "exit code 143":
            # The stopping engine sent the task SIGTERM and the worker saw it exit before the
            # engine went away: the task's own last line says so.
            assert ("stdout", "terminated") in e["log"], e["log"]
            continue
        assert e["reason"].startswith(ENGINE_GONE), e["reason"]
        assert e["reason"] in e["log"][-1][1]  # the last log line says it too


def test_dockerd_back_runs_again(restarts):
    outcome = _outcome(restarts, "dockerd")
    after = [
        e for e in _dockerd_rows(outcome) if e["scheduled_for"].timestamp() > outcome.back_at + 1
    ]
    assert after, "no tick after the engine came back"
    ran = [e for e in after if e["status"] == "succeeded"]
    # The engine may need a moment after its restart; then the ticks run again.
    assert ran, [(e["status"], e["reason"]) for e in after]
    assert all(outcome.containers[e["pk"]] == 1 for e in ran)
