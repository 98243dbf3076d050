"""`tests/bench/fire_lag.py --containers N`: real containers on the tick, Chorus vs the baseline.

Both sides run the same image, whose task's first instruction prints the time it began, read
inside the container (busybox `adjtimex`: the kernel's clock in microseconds; busybox `date`
has no %N), so fire lag = the task's first instruction − the tick, whatever the engine or the
worker believe:

- Chorus: N Docker deployments due at one instant T, ChorusScheduler and executions workers;
  runs start ahead of T, held until it (deployments/executions/hold.py). Two ticks, two minutes
  apart: the first with the workers' first guess of the engine's start rate (as on a fresh
  installation), the second — the figures of the JSON line — with the rate they measured.
- Baseline: what a user would otherwise build: stock django-celery-beat (DatabaseScheduler),
  one PeriodicTask per task at T, each calling the Docker SDK's `containers.run` from a Celery
  task, with the same workers (pool, concurrency) and the same image.

Duplicates: executions of T beyond one per deployment, or more than one task begin in one run.
Missed: deployments without a task begin. (The JSON line counts Chorus's; the baseline's are
printed with its figures.)
Also printed: the engine's measured seconds per start (what the workers shared through the
cache), CPU use around the tick, the memory the held containers took (their cgroups) and
what the workers' threads added during the lead.
"""

from __future__ import annotations

import json
import os
import re
import time
from datetime import UTC, datetime, timedelta

from tests.bench.fire_lag_parts import (
    create_chorus,
    crontab_row,
    flush_redis,
    proc_env,
    say,
    sleep_until,
    start_beat,
    start_workers,
    stop_all,
    target_minute,
)

BASELINE_KEY = "bench:fire_lag:baseline_begins"
BASELINE_TASK = "bench.fire_lag.docker_run"
BEGAN = re.compile(r"^began (\d+\.\d+)$")
# The task: print the kernel's clock as its first instruction, then end.
TASK = (
    "adjtimex | awk '/status:/{st=$2} /tv_sec:/{s=$2} /tv_usec:/{u=$2} "
    'END{if (and(st, 8192)) u = int(u / 1000); printf "began %d.%06d\\n", s, u}\''
)

try:  # Loaded by the baseline worker (celery -I tests.bench.fire_lag): the user's own task.
    from celery import shared_task

    @shared_task(name=BASELINE_TASK, ignore_result=True)
    def docker_run(i: int, image: str) -> None:
        import docker
        import redis

        client = docker.from_env(timeout=600)  # a loaded engine answers late, not never
        try:
            out = client.containers.run(image, remove=True, labels={"bench.baseline": "1"})
        finally:
            client.close()
        r = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
        for line in out.decode().splitlines():
            m = BEGAN.match(line.strip())
            if m:
                r.rpush(BASELINE_KEY, json.dumps([i, float(m.group(1))]))
except ImportError:  # pragma: no cover
    pass


def bench_image() -> str:
    """The task image: the offline busybox base, CMD sh -c TASK."""
    import io
    import tarfile

    from deployments.builds.baseimages.busybox import ensure_busybox_image
    from deployments.builds.baseimages.common import BUSYBOX_TAG
    from deployments.runtimes.docker.runtime import DockerRuntime

    client = DockerRuntime().client(timeout=600)
    try:
        ensure_busybox_image(client, tag=BUSYBOX_TAG, log=lambda line: None)
        dockerfile = f"FROM {BUSYBOX_TAG}\nCMD {json.dumps(['sh', '-c', TASK])}\n".encode()
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(dockerfile)
            tar.addfile(info, io.BytesIO(dockerfile))
        buf.seek(0)
        image, _ = client.images.build(
            fileobj=buf, custom_context=True, tag="chorus/bench-began:latest", rm=True, pull=False
        )
        return image.id  # by id, as Chorus runs images
    finally:
        client.close()


# --- the machine around the tick ---------------------------------------------------------------
def cpu_sample() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs."""
    with open("/proc/stat") as f:
        fields = [float(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def cpu_busy(a: tuple[float, float], b: tuple[float, float]) -> float:
    return 100.0 * (b[0] - a[0]) / max(b[1] - a[1], 1.0)


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def held_containers(ids: list[int]) -> tuple[int, float]:
    """(running containers of these deployments, their memory in MB, from their cgroups)."""
    from deployments.runtimes.docker.runtime import DockerRuntime

    wanted = {str(i) for i in ids}
    client = DockerRuntime().client(timeout=60)
    try:
        found = [
            c["Id"]
            for c in client.api.containers(filters={"label": ["chorus.managed=true"]})
            if (c.get("Labels") or {}).get("chorus.deployment") in wanted
        ]
    finally:
        client.close()
    used = 0
    for cid in found:
        for path in (
            f"/sys/fs/cgroup/memory/docker/{cid}/memory.usage_in_bytes",  # cgroup v1
            f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/memory.current",  # v2
        ):
            try:
                with open(path) as f:
                    used += int(f.read())
                break
            except OSError:
                continue
    return len(found), used / 2**20


def watch_tick(t: datetime, lead_window: float, ids: list[int], procs) -> dict:
    """CPU before and after the tick, and what the held containers and workers took."""
    workers = [p.popen.pid for p in procs if "worker" in p.name]
    sleep_until(t - timedelta(seconds=lead_window))
    rss_before, cpu0 = rss_mb(workers), cpu_sample()
    sleep_until(t - timedelta(seconds=1))
    cpu1 = cpu_sample()
    held, memory = held_containers(ids)
    rss_held = rss_mb(workers)
    sleep_until(t + timedelta(seconds=2))
    cpu2 = cpu_sample()
    return {
        "cpu_lead_pct": cpu_busy(cpu0, cpu1),
        "cpu_tick_pct": cpu_busy(cpu1, cpu2),
        "held_at_tick": held,
        "memory_held_mb": memory,
        "worker_rss_growth_mb": rss_held - rss_before,
    }


# --- measuring ---------------------------------------------------------------------------------
def measure_chorus(ids: list[int], t: datetime, timeout: float) -> dict:
    from django.db import connection

    from deployments.models import Execution, ExecutionLogLine

    deadline = time.monotonic() + timeout
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
            "pk", "deployment_id", "status", "fire_lag_seconds"
        )
    )
    per_deployment: dict[int, int] = {}
    statuses: dict[str, int] = {}
    for _, did, status, _ in rows:
        per_deployment[did] = per_deployment.get(did, 0) + 1
        statuses[status] = statuses.get(status, 0) + 1
    begins: dict[int, list[float]] = {}
    for execution_id, text in ExecutionLogLine.objects.filter(
        execution__scheduled_for=t, execution__deployment_id__in=ids, text__startswith="began "
    ).values_list("execution_id", "text"):
        m = BEGAN.match(text)
        if m:
            begins.setdefault(execution_id, []).append(float(m.group(1)))
    deployment_of = {pk: did for pk, did, _, _ in rows}
    began_deployments = {deployment_of[pk] for pk in begins}
    duplicates = sum(n - 1 for n in per_deployment.values() if n > 1)
    duplicates += sum(len(v) - 1 for v in begins.values() if len(v) > 1)
    recorded = [lag for *_, lag in rows if lag is not None]
    return {
        "lags": [min(v) - t.timestamp() for v in begins.values()],
        "recorded": recorded,  # what the executions say (the wrapper's reading)
        "duplicates": duplicates,
        "missed": len(ids) - len(began_deployments),
        "statuses": statuses,
    }


def measure_baseline(n: int, t: datetime, redis_url: str, timeout: float) -> dict:
    import redis

    r = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and r.llen(BASELINE_KEY) < n:
        time.sleep(1)
    seen: dict[int, list[float]] = {}
    for raw in r.lrange(BASELINE_KEY, 0, -1):
        i, began = json.loads(raw)
        seen.setdefault(int(i), []).append(float(began))
    return {
        "lags": [min(v) - t.timestamp() for v in seen.values()],
        "duplicates": sum(len(v) - 1 for v in seen.values()),
        "missed": n - len(seen),
    }


# --- the two runs ------------------------------------------------------------------------------
def run_chorus(args, db_url: str, redis_url: str, n: int, image: str) -> tuple[dict, dict]:
    """Two ticks two minutes apart: the first with the workers' first guess of the engine's
    start rate (a fresh installation), the second with what they measured on the first."""
    from django.core.cache import cache
    from django.db import connection

    from deployments.executions.hold import CACHE_KEY

    flush_redis(redis_url)
    env = {**proc_env(db_url, redis_url), "CHORUS_CACHE_URL": redis_url}
    t1 = target_minute(90)
    if t1.minute > 57:  # both ticks in the same hour, for one cron line
        t1 = t1.replace(minute=0) + timedelta(hours=1)
    t2 = t1 + timedelta(minutes=2)
    schedule = f"{t1.minute},{t2.minute} {t1.hour} * * *"
    say(f"chorus: creating {n} Docker deployments due at {t1:%H:%M} and {t2:%H:%M} UTC")
    # Allow: the second tick does not wait for the first one's runs to be cleaned up.
    ids = create_chorus(
        n, t1, runtime="docker", image=image, build_kind="docker", schedule=schedule,
        concurrency="allow",
    )  # fmt: skip
    connection.close()
    procs = start_workers(args, env, "chorus")
    try:
        procs.append(start_beat(env, "chorus", "deployments.executions.scheduler:ChorusScheduler"))
        if datetime.now(UTC) > t1 - timedelta(seconds=60):
            raise SystemExit("setup took too long: the target minute is too close; try again")
        say(f"chorus: beat and {args.workers} worker(s) ready; ticks {t1:%H:%M} and {t2:%H:%M}")
        sleep_until(t1 - timedelta(seconds=1))
        first_guess = cache.get(CACHE_KEY.format(kind="docker"))
        machine = watch_tick(t2, 60, ids, procs)
        per_start = cache.get(CACHE_KEY.format(kind="docker"))
        cold = measure_chorus(ids, t1, timeout=args.timeout)
        warm = measure_chorus(ids, t2, timeout=args.timeout)
    finally:
        stop_all(procs)
    cold.update(per_start=first_guess)
    warm.update(machine, per_start=per_start)
    return cold, warm


def run_baseline(args, db_url: str, redis_url: str, n: int, image: str) -> dict:
    from django.db import connection, transaction
    from django_celery_beat.models import PeriodicTask, PeriodicTasks

    flush_redis(redis_url)
    PeriodicTask.objects.filter(task="chorus.execution.tick").delete()
    env = proc_env(db_url, redis_url)
    t = target_minute(40)
    say(f"baseline: creating {n} PeriodicTasks (containers.run) due at {t:%H:%M:%S} UTC")
    crontab = crontab_row(t)
    with transaction.atomic():
        PeriodicTask.objects.bulk_create(
            [
                PeriodicTask(
                    name=f"baseline:{i}",
                    task=BASELINE_TASK,
                    kwargs=json.dumps({"i": i, "image": image}),
                    queue="executions",
                    crontab=crontab,
                    enabled=True,
                )
                for i in range(n)
            ]
        )
        PeriodicTasks.update_changed()
    connection.close()
    procs = start_workers(args, env, "baseline")
    try:
        procs.append(start_beat(env, "baseline", "django_celery_beat.schedulers:DatabaseScheduler"))
        say(f"baseline: beat and {args.workers} worker(s) ready; waiting for {t:%H:%M:%S}")
        sleep_until(t)
        m = measure_baseline(n, t, redis_url, timeout=args.timeout + 120)
    finally:
        stop_all(procs)
    return m


def run_containers(args, db_url: str, redis_url: str, n: int, report, pct) -> dict:
    from django.conf import settings

    image = bench_image()
    say(f"image {image[:19]} (busybox; its task prints when it began, read inside the container)")
    cold, chorus = run_chorus(args, db_url, redis_url, n, image)
    guess = cold["per_start"] or settings.CHORUS_HOLD_SECONDS_PER_START
    report(f"chorus, first tick (start rate not yet measured: {guess:.3f} s per start)", cold)
    report("chorus", chorus)
    say(
        f"chorus: the executions recorded p50 {pct(chorus['recorded'], 50) or 0:.3f} s, "
        f"p99 {pct(chorus['recorded'], 99) or 0:.3f} s (the hold wrapper's reading, just "
        "before it hands over to the task)"
    )
    say(
        f"chorus: engine {chorus['per_start'] or 0:.3f} s per start per worker (measured); "
        f"{chorus['held_at_tick']} containers held at T-1 s using "
        f"{chorus['memory_held_mb']:.0f} MB (their cgroups), the workers' RSS grew by "
        f"{chorus['worker_rss_growth_mb']:.0f} MB during the lead; CPU "
        f"{chorus['cpu_lead_pct']:.0f} % busy over the last 60 s before T, "
        f"{chorus['cpu_tick_pct']:.0f} % from T-1 s to T+2 s"
    )
    baseline = run_baseline(args, db_url, redis_url, n, image)
    report("baseline", baseline)
    return {
        "n": n,
        "runtime": "docker",
        "chorus_p50_s": pct(chorus["lags"], 50),
        "chorus_p99_s": pct(chorus["lags"], 99),
        "baseline_p50_s": pct(baseline["lags"], 50),
        "baseline_p99_s": pct(baseline["lags"], 99),
        "duplicates": chorus["duplicates"] + cold["duplicates"],
        "missed": chorus["missed"] + cold["missed"],
    }
