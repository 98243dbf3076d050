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

--containers N: N deployments on the Docker runtime with the busybox image; fire lag is then the
time from T to the container running (the runtime's start callback, after `docker start`).

The last line is one JSON object:
{"n", "chorus_p50_s", "chorus_p99_s", "chorus_max_s", "stock_p50_s", "stock_p99_s",
 "duplicates", "missed"}.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

LOG_DIR = ROOT / "var" / "bench-fire-lag"
STOCK_KEY = "bench:fire_lag:stock_starts"
STOCK_TASK = "bench.fire_lag.record_start"

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


# --- setup ------------------------------------------------------------------------------------
def bench_urls(redis_db: int) -> tuple[str, str]:
    url = os.environ.get("DATABASE_URL", "postgres://chorus:chorus@127.0.0.1:5432/chorus")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("set DATABASE_URL to a PostgreSQL database (the benchmark is about PostgreSQL)")
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "chorus"
    bench = f"{name}_bench_fire_lag"
    import psycopg

    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin.replace("postgres://", "postgresql://", 1), autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{bench}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{bench}"')
    db_url = urlunsplit((parts.scheme, parts.netloc, f"/{bench}", parts.query, ""))
    r = urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    redis_url = urlunsplit((r.scheme, r.netloc, f"/{redis_db}", "", ""))
    return db_url, redis_url


def say(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def setup_django(db_url: str, redis_url: str) -> None:
    os.environ.update(
        {
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DEBUG": "false",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def flush_redis(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).flushdb()


def target_minute(setup_seconds: float) -> datetime:
    """The first minute boundary at least `setup_seconds` from now."""
    now = datetime.now(UTC)
    t = (now + timedelta(seconds=setup_seconds)).replace(second=0, microsecond=0)
    return t + timedelta(minutes=1)


def cron_for(t: datetime) -> str:
    return f"{t.minute} {t.hour} * * *"


def crontab_row(t: datetime):
    from django_celery_beat.models import CrontabSchedule

    row, _ = CrontabSchedule.objects.get_or_create(
        minute=str(t.minute),
        hour=str(t.hour),
        day_of_month="*",
        month_of_year="*",
        day_of_week="*",
        timezone="UTC",
    )
    return row


def create_chorus(n: int, t: datetime, *, runtime: str, image: str) -> list[int]:
    """N components, one build and one deployment each, with their PeriodicTasks (what the
    deploy service creates, written in bulk so 10,000 take seconds)."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone
    from django_celery_beat.models import PeriodicTask, PeriodicTasks

    from components.models import Component
    from deployments.models import Build, Deployment, Environment
    from portal.services import project_create

    user = get_user_model().objects.create_user("bench", password="bench-password-1")
    project = project_create(name="Bench", description="fire lag", actor=user)
    env = Environment.objects.get(slug="dev")
    env.runtime_kind = runtime
    env.save()
    crontab = crontab_row(t)
    now = timezone.now()
    with transaction.atomic():
        comps = Component.objects.bulk_create(
            [
                Component(
                    project=project,
                    name=f"task-{i:05d}",
                    source_kind=Component.SourceKind.SAMPLE,
                    sample_key="hello",
                    preset=Component.Preset.PYTHON,
                    entry_command="sh",
                    created_by=user,
                )
                for i in range(n)
            ],
            batch_size=2000,
        )
        builds = Build.objects.bulk_create(
            [
                Build(
                    component=c,
                    commit_sha=f"{i:040x}",
                    status=Build.Status.SUCCEEDED,
                    preset="python",
                    image_ref=image,
                    image_digest=f"sha256:{i:064x}",
                    finished_at=now,
                )
                for i, c in enumerate(comps)
            ],
            batch_size=2000,
        )
        deployments = Deployment.objects.bulk_create(
            [
                Deployment(
                    component=c,
                    environment=env,
                    build=b,
                    schedule=cron_for(t),
                    timezone="UTC",
                    concurrency_policy="forbid",
                    starting_deadline_seconds=300,
                )
                for c, b in zip(comps, builds, strict=True)
            ],
            batch_size=2000,
        )
        tasks = PeriodicTask.objects.bulk_create(
            [
                PeriodicTask(
                    name=f"chorus:deployment:{d.pk}",
                    task="chorus.execution.tick",
                    kwargs=json.dumps({"deployment_id": d.pk}),
                    queue="executions",
                    crontab=crontab,
                    enabled=True,
                )
                for d in deployments
            ],
            batch_size=2000,
        )
        for d, pt in zip(deployments, tasks, strict=True):
            d.periodic_task = pt
        Deployment.objects.bulk_update(deployments, ["periodic_task"], batch_size=2000)
        PeriodicTasks.update_changed()
    return [d.pk for d in deployments]


def create_stock(n: int, t: datetime) -> None:
    from django.db import transaction
    from django_celery_beat.models import PeriodicTask, PeriodicTasks

    crontab = crontab_row(t)
    with transaction.atomic():
        PeriodicTask.objects.bulk_create(
            [
                PeriodicTask(
                    name=f"stock:{i}",
                    task=STOCK_TASK,
                    kwargs=json.dumps({"i": i}),
                    queue="executions",
                    crontab=crontab,
                    enabled=True,
                )
                for i in range(n)
            ],
            batch_size=2000,
        )
        PeriodicTasks.update_changed()


# --- processes --------------------------------------------------------------------------------
class Proc:
    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = LOG_DIR / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.output()[-3000:]}")
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} did not print {text!r}:\n{self.output()[-3000:]}")

    def stop(self) -> None:
        if self._log.closed:
            return
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        self._log.close()


def proc_env(db_url: str, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "WARNING",
        }
    )
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    return env


def start_workers(args, env: dict[str, str], label: str) -> list[Proc]:
    # Like the Procfile's executions worker: many threads, a small connection pool.
    env = {**env, "CHORUS_DB_POOL_SIZE": str(args.db_pool)}
    procs = []
    for k in range(args.workers):
        p = Proc(
            f"{label}-worker{k}",
            [
                sys.executable, "-m", "celery", "-A", "portal", "worker",
                "--loglevel=WARNING", f"--pool={args.pool}", f"--concurrency={args.concurrency}",
                "-Q", "executions", "-n", f"{label}{k}@%h",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "-I", "tests.bench.fire_lag",
            ],
            env,
        )  # fmt: skip
        procs.append(p)
        STARTED.append(p)
    # Workers log at WARNING (no line per task), so readiness is asked over the control bus.
    from portal.celery import app

    names = {f"{label}{k}@" for k in range(args.workers)}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for p in procs:
            if p.popen.poll() is not None:
                raise RuntimeError(f"{p.name} exited:\n{p.output()[-3000:]}")
        replies = app.control.ping(timeout=1.0) or []
        ready = {name for r in replies for name in r}
        if all(any(r.startswith(n) for r in ready) for n in names):
            return procs
    raise TimeoutError("workers did not answer a ping within 120 s")


def start_beat(env: dict[str, str], label: str, scheduler: str) -> Proc:
    p = Proc(
        f"{label}-beat",
        [
            sys.executable, "-m", "celery", "-A", "portal", "beat", "--loglevel=INFO",
            f"--scheduler={scheduler}", f"--pidfile={LOG_DIR / (label + '-beat.pid')}",
        ],
        env,
    )  # fmt: skip
    STARTED.append(p)
    p.wait_for("beat: Starting", timeout=120)
    return p


# Every process this run started, stopped at exit whatever happens.
STARTED: list[Proc] = []


def stop_all(procs: list[Proc]) -> None:
    for p in procs:
        try:
            p.stop()
        except Exception as exc:  # noqa: BLE001 - keep stopping the others
            say(f"could not stop {p.name}: {exc}")


def sleep_until(t: datetime) -> None:
    while (left := (t - datetime.now(UTC)).total_seconds()) > 0:
        time.sleep(min(left, 1.0))


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
def run_chorus(args, db_url: str, redis_url: str, *, n: int, runtime: str, image: str) -> dict:
    from django.db import connection

    flush_redis(redis_url)
    env = proc_env(db_url, redis_url)
    setup_budget = 25 + n / 400  # seconds: bulk create + process start-up
    t = target_minute(setup_budget)
    say(f"chorus: creating {n} deployments due at {t:%H:%M:%S} UTC ({runtime} runtime)")
    started = time.perf_counter()
    ids = create_chorus(n, t, runtime=runtime, image=image)
    say(f"chorus: created in {time.perf_counter() - started:.1f} s; starting processes")
    connection.close()
    procs = start_workers(args, env, "chorus")
    try:
        procs.append(start_beat(env, "chorus", "deployments.scheduler:ChorusScheduler"))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="schedules due in the same minute")
    parser.add_argument("--no-stock", action="store_true", help="skip the stock comparison")
    parser.add_argument(
        "--containers", type=int, default=0, help="run N real containers instead (Docker)"
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
    if not args.concurrency:
        args.concurrency = max(100, (args.containers or args.n) // args.workers + 200)

    db_url, redis_url = bench_urls(args.redis_db)
    say(f"database {db_url.rsplit('/', 1)[-1]}, redis {redis_url}, {os.cpu_count()} CPU(s)")
    setup_django(db_url, redis_url)

    if args.containers:
        from deployments.baseimages import BUSYBOX_TAG, ensure_busybox_image
        from deployments.runtimes.docker import DockerRuntime

        client = DockerRuntime().client(timeout=600)
        ensure_busybox_image(client, tag=BUSYBOX_TAG, log=lambda line: None)
        client.close()
        n = args.containers
        chorus = run_chorus(args, db_url, redis_url, n=n, runtime="docker", image=BUSYBOX_TAG)
        say("(containers mode: lag = tick to container running, after `docker start` returned)")
        stock = None
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
