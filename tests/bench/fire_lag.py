"""Benchmark: fire lag of N schedules due in the same minute, Chorus vs stock beat (not a test).

    DATABASE_URL=postgres://chorus:chorus@127.0.0.1:5432/chorus REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python tests/bench/fire_lag.py --n 1000
    ... tests/bench/fire_lag.py --n 10000 --no-stock
    ... tests/bench/fire_lag.py --containers 10

Needs PostgreSQL and Redis running (scripts/services.sh start). Works in its own database,
`<DATABASE_URL's name>_bench_fire_lag` (dropped and created afresh), and its own Redis database
(--redis-db, default 15, flushed). Starts its own beat and worker processes.

Chorus: N deployments on the cron schedule "<M> <H> * * *" (all due at the same instant T, a
minute boundary far enough ahead for setup), an environment whose runtime is `record` (runs no
container: it records the start), ChorusScheduler, and worker processes consuming the
"executions" queue. Fire lag = Execution.started_at - T (the runtime's start). Duplicates =
executions of T beyond one per deployment, or runs beyond one per execution; missed = the
deployments without a succeeded run of T.

Stock: the same N schedules as plain PeriodicTasks (one each, crontab "<M> <H> * * *"), the
stock django_celery_beat DatabaseScheduler, and a trivial task that records its start time in
Redis. Lag = start - T.

--containers N: N Docker deployments whose task prints the time it began, read inside the
container, against the baseline a user would otherwise build (stock django-celery-beat, one
PeriodicTask per task calling the Docker SDK's `containers.run`); see fire_lag_containers.py.
Its JSON line: {"n", "runtime", "chorus_p50_s", "chorus_p99_s", "baseline_p50_s",
"baseline_p99_s", "duplicates", "missed"}.

--registry: N (--containers, default 100) real containers on engine B (scripts/services.sh's
second engine) of an image pushed to the test registry and referred to by digest, as with
CHORUS_REGISTRY; B's copy is removed first and pulled ahead by digest before the tick; the
environment's runs go to its own queue (executions.b) served by workers whose DOCKER_HOST is B.

Otherwise the last line is one JSON object:
{"n", "chorus_p50_s", "chorus_p99_s", "chorus_max_s", "stock_p50_s", "stock_p99_s",
 "duplicates", "missed"}.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.fire_lag_containers import run_containers  # noqa: E402, F401 - its task too
from tests.bench.fire_lag_parts import (  # noqa: E402 - after the sys.path line
    STARTED,
    STOCK_KEY,
    STOCK_TASK,
    bench_urls,
    create_chorus,
    create_stock,
    flush_redis,
    proc_env,
    say,
    setup_django,
    sleep_until,
    start_beat,
    start_workers,
    stop_all,
    target_minute,
)

try:  # Loaded by the stock worker (celery -I tests.bench.fire_lag): the trivial task.
    from celery import shared_task

    @shared_task(name=STOCK_TASK, ignore_result=True)
    def record_start(i: int) -> None:
        import redis

        started = time.time()
        redis.Redis.from_url(os.environ["CELERY_BROKER_URL"]).rpush(
            STOCK_KEY, json.dumps([i, started])
        )
except ImportError:  # pragma: no cover
    pass


# --- figures ----------------------------------------------------------------------------------
def pct(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))]


def fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f} s"


def measure_chorus(ids: list[int], t: datetime, timeout: float) -> dict:
    from django.db import connection
    from django.db.models import Count

    from deployments.models import Execution, ExecutionLogLine

    deadline = time.monotonic() + timeout
    finished = 0
    while time.monotonic() < deadline:
        connection.close()
        finished = Execution.objects.filter(
            scheduled_for=t, status__in=Execution.FINISHED, deployment_id__in=ids
        ).count()
        if finished >= len(ids):
            break
        time.sleep(1)
    rows = list(
        Execution.objects.filter(scheduled_for=t, deployment_id__in=ids).values_list(
            "pk", "deployment_id", "status", "started_at", "fire_lag_seconds"
        )
    )
    per_deployment: dict[int, int] = {}
    for _, did, *_ in rows:
        per_deployment[did] = per_deployment.get(did, 0) + 1
    starts = dict(
        ExecutionLogLine.objects.filter(
            execution__scheduled_for=t, text__startswith="record runtime: started"
        )
        .values("execution_id")
        .annotate(n=Count("pk"))
        .values_list("execution_id", "n")
    )
    duplicates = sum(n - 1 for n in per_deployment.values() if n > 1)
    duplicates += sum(n - 1 for n in starts.values() if n > 1)
    ok = {did for _, did, status, *_ in rows if status == Execution.Status.SUCCEEDED}
    lags = [(s - t).total_seconds() for _, _, status, s, _ in rows if s is not None]
    statuses: dict[str, int] = {}
    for _, _, status, *_ in rows:
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "lags": lags,
        "duplicates": duplicates,
        "missed": len(ids) - len(ok),
        "statuses": statuses,
    }


def measure_stock(n: int, t: datetime, redis_url: str, timeout: float) -> dict:
    import redis

    r = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and r.llen(STOCK_KEY) < n:
        time.sleep(1)
    seen: dict[int, list[float]] = {}
    for raw in r.lrange(STOCK_KEY, 0, -1):
        i, started = json.loads(raw)
        seen.setdefault(int(i), []).append(float(started))
    lags = [min(v) - t.timestamp() for v in seen.values()]
    duplicates = sum(len(v) - 1 for v in seen.values())
    return {"lags": lags, "duplicates": duplicates, "missed": n - len(seen)}


def report(name: str, m: dict) -> None:
    lags = m["lags"]
    say(
        f"{name}: {len(lags)} started, p50 {fmt(pct(lags, 50))}, p99 {fmt(pct(lags, 99))}, "
        f"max {fmt(max(lags) if lags else None)}, min {fmt(min(lags) if lags else None)}, "
        f"duplicates {m['duplicates']}, missed {m['missed']}"
        + (f", statuses {m['statuses']}" if m.get("statuses") else "")
    )


# --- runs -------------------------------------------------------------------------------------
def run_chorus(
    args,
    db_url: str,
    redis_url: str,
    *,
    n: int,
    runtime: str,
    image: str,
    environment: dict | None = None,
    worker_env: dict | None = None,
) -> dict:
    from django.db import connection

    flush_redis(redis_url)
    env = proc_env(db_url, redis_url)
    setup_budget = 25 + n / 400  # seconds: bulk create + process start-up
    t = target_minute(setup_budget)
    say(f"chorus: creating {n} deployments due at {t:%H:%M:%S} UTC ({runtime} runtime)")
    started = time.perf_counter()
    ids = create_chorus(n, t, runtime=runtime, image=image, environment=environment)
    say(f"chorus: created in {time.perf_counter() - started:.1f} s; starting processes")
    connection.close()
    procs = start_workers(args, {**env, **(worker_env or {})}, "chorus")
    try:
        procs.append(start_beat(env, "chorus", "deployments.executions.scheduler:ChorusScheduler"))
        if datetime.now(UTC) > t - timedelta(seconds=5):
            raise SystemExit("setup took too long: the target minute is too close; try again")
        say(f"chorus: beat and {args.workers} worker(s) ready; waiting for {t:%H:%M:%S}")
        sleep_until(t)
        m = measure_chorus(ids, t, timeout=args.timeout)
    finally:
        stop_all(procs)
    report("chorus", m)
    return m


def run_stock(args, db_url: str, redis_url: str, n: int) -> dict:
    from django.db import connection
    from django_celery_beat.models import PeriodicTask

    flush_redis(redis_url)
    # Only the stock tasks: no deployments' PeriodicTasks for the stock scheduler to send.
    PeriodicTask.objects.filter(task="chorus.execution.tick").delete()
    env = proc_env(db_url, redis_url)
    t = target_minute(25 + n / 400)
    say(f"stock: creating {n} PeriodicTasks due at {t:%H:%M:%S} UTC")
    create_stock(n, t)
    connection.close()
    procs = start_workers(args, env, "stock")
    try:
        procs.append(start_beat(env, "stock", "django_celery_beat.schedulers:DatabaseScheduler"))
        say(f"stock: beat and {args.workers} worker(s) ready; waiting for {t:%H:%M:%S}")
        sleep_until(t)
        m = measure_stock(n, t, redis_url, timeout=args.timeout)
    finally:
        stop_all(procs)
    report("stock", m)
    return m


def run_registry(args, db_url: str, redis_url: str, n: int) -> dict:
    """N containers on engine B, of an image in the registry pulled ahead by digest."""
    from deployments.builds.baseimages.busybox import ensure_busybox_image
    from deployments.builds.baseimages.common import BUSYBOX_TAG
    from deployments.registry import Registry
    from deployments.runtimes.docker.runtime import DockerRuntime
    from tests.support.registry import (
        DOCKER_B,
        DOCKER_B_NETWORK,
        REGISTRY_PORT,
        engine_b,
        shared_registry,
    )

    location = shared_registry("chorus-bench")
    registry = Registry(location=location)
    engine_a = DockerRuntime()
    client = engine_a.client(timeout=600)
    ensure_busybox_image(client, tag=BUSYBOX_TAG, log=lambda line: None)
    image_id = client.images.get(BUSYBOX_TAG).id
    client.close()
    repository = registry.repository(project="bench", component="fire-lag")
    digest = engine_a.push(
        image_id=image_id, repository=repository, tag="bench", auth=None, log=lambda *a: None
    )
    ref = f"{repository}@{digest}"
    b = engine_b()
    try:
        b.images.remove(image_id, force=True)
    except Exception:  # noqa: BLE001 - not there: as wanted
        pass
    b.close()
    started = time.perf_counter()
    pulled = DockerRuntime(base_url=DOCKER_B).ensure_image(ref)
    say(
        f"registry: {ref} (127.0.0.1:{REGISTRY_PORT}) pulled ahead onto {DOCKER_B} "
        f"in {time.perf_counter() - started:.2f} s (pulled: {pulled})"
    )
    args.queues = "executions,executions.b"
    m = run_chorus(
        args,
        db_url,
        redis_url,
        n=n,
        runtime="docker",
        image=ref,
        environment={
            "docker_host": DOCKER_B,
            "docker_network": DOCKER_B_NETWORK,
            "queue": "executions.b",
        },
        worker_env={
            "DOCKER_HOST": DOCKER_B,
            "CHORUS_DOCKER_NETWORK": DOCKER_B_NETWORK,
            "CHORUS_REGISTRY": location,
        },
    )
    say("(registry mode: lag = tick to container running on engine B, image pulled by digest)")
    return m


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="schedules due in the same minute")
    parser.add_argument("--no-stock", action="store_true", help="skip the stock comparison")
    parser.add_argument(
        "--containers", type=int, default=0, help="run N real containers instead (Docker)"
    )
    parser.add_argument(
        "--registry",
        action="store_true",
        help="containers on engine B of an image pulled by digest from the test registry",
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=0,
        help="threads per worker (default: enough for every run of the tick to wait in one)",
    )
    parser.add_argument("--db-pool", type=int, default=16, help="connections per worker")
    parser.add_argument("--pool", default="threads", help="worker pool (threads, prefork)")
    parser.add_argument("--redis-db", type=int, default=15)
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for runs")
    args = parser.parse_args()
    if args.registry and not args.containers:
        args.containers = 100
    if not args.concurrency:
        args.concurrency = max(100, (args.containers or args.n) // args.workers + 200)

    db_url, redis_url = bench_urls(args.redis_db)
    say(f"database {db_url.rsplit('/', 1)[-1]}, redis {redis_url}, {os.cpu_count()} CPU(s)")
    if args.containers and not args.registry:
        # The workers share the engine's measured start rate through the cache; read it too.
        os.environ["CHORUS_CACHE_URL"] = redis_url
    setup_django(db_url, redis_url)

    if args.registry:
        n = args.containers
        chorus = run_registry(args, db_url, redis_url, n)
        stock = None
    elif args.containers:
        result = run_containers(args, db_url, redis_url, args.containers, report, pct)
        print(
            json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()})
        )
        return
    else:
        n = args.n
        chorus = run_chorus(args, db_url, redis_url, n=n, runtime="record", image="record")
        stock = None if args.no_stock else run_stock(args, db_url, redis_url, n)

    lags = chorus["lags"]
    result = {
        "n": n,
        "chorus_p50_s": pct(lags, 50),
        "chorus_p99_s": pct(lags, 99),
        "chorus_max_s": max(lags) if lags else None,
        "stock_p50_s": pct(stock["lags"], 50) if stock else None,
        "stock_p99_s": pct(stock["lags"], 99) if stock else None,
        "duplicates": chorus["duplicates"],
        "missed": chorus["missed"],
    }
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_all([p for p in STARTED if p.popen.poll() is None])
