"""Setup and processes of tests/bench/fire_lag.py: its database and Redis, the N deployments
(or stock PeriodicTasks) due at one instant, and the beat and worker processes it starts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
LOG_DIR = ROOT / "var" / "bench-fire-lag"
STOCK_KEY = "bench:fire_lag:stock_starts"
STOCK_TASK = "bench.fire_lag.record_start"


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


def create_chorus(
    n: int,
    t: datetime,
    *,
    runtime: str,
    image: str,
    environment: dict | None = None,
    build_kind: str = "",
    schedule: str = "",
    concurrency: str = "forbid",
) -> list[int]:
    """N components, one build and one deployment each, with their PeriodicTasks (what the
    deploy service creates, written in bulk so 10,000 take seconds). `environment`: more
    fields of the environment (its engine, its queue); `build_kind`: the runtime that built
    the image (Docker builds run held, started ahead of the tick); `schedule`: another
    schedule than T's minute; `concurrency`: the deployments' policy."""
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
    for key, value in (environment or {}).items():
        setattr(env, key, value)
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
                    runtime_kind=build_kind,
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
                    schedule=schedule or cron_for(t),
                    timezone="UTC",
                    concurrency_policy=concurrency,
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
                "-Q", getattr(args, "queues", "executions"), "-n", f"{label}{k}@%h",
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
