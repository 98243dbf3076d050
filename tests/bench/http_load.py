"""Benchmark: the portal's pages under real HTTP load while the scheduler writes (not a test).

    DATABASE_URL=postgres://chorus:chorus@127.0.0.1:5432/chorus REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python tests/bench/http_load.py            # seeds 1,000,000 executions (2–5 min)
    ... tests/bench/http_load.py --reuse                     # the database of the last run

Needs PostgreSQL and Redis (scripts/services.sh start). Works in its own database
(`<DATABASE_URL's name>_bench_http`; `--reuse` keeps a seeded one, otherwise it is dropped and
seeded afresh: tests/bench/http_load_seed.py) and its own Redis database (--redis-db, flushed).

It starts the Procfile's processes as `make run` does (`web`: gunicorn with its workers and
threads, WhiteNoise; `worker`; `executions`; `beat`: ChorusScheduler), in production mode with
DEBUG off, so 1,000 `* * * * *` deployments (record runtime) fire every minute and write
executions, log lines and rollups throughout the measurement. Then locust, headless
(tests/bench/http_load_locust.py):

1. --clients (8) logged-in clients without think time cycle the project overview, a component
   dashboard, the executions list, a log search and a running execution's live log, for
   --duration seconds after --warmup seconds;
2. the same, with --pollers (50) open execution pages polling their live log every second as
   htmx does.

It prints p50 / p95 per page and requests/s for each phase, how much the other pages' p95 rose
with the pollers, and ends with one JSON line. Every process it starts is stopped at the end,
on Ctrl-C, or on SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench import http_load_seed as seeding  # noqa: E402 - after the sys.path line
from tests.bench.http_load_procs import (  # noqa: E402
    STARTED,
    Proc,
    cpu_by_role,
    free_port,
    start_portal,
    stop_all,
)

LOCUSTFILE = Path(__file__).with_name("http_load_locust.py")
PAGES = ("overview", "dashboard", "executions_list", "log_search", "livelog")
OTHER_PAGES = PAGES[:-1]
say = seeding.say


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--executions", type=int, default=1_000_000, help="history to seed")
    p.add_argument("--projects", type=int, default=20)
    p.add_argument("--components", type=int, default=25, help="per project, each in dev + prod")
    p.add_argument("--days", type=int, default=30, help="the history's span")
    p.add_argument("--clients", type=int, default=8, help="page clients (no think time)")
    p.add_argument("--pollers", type=int, default=50, help="live-log pages of phase 2")
    p.add_argument("--duration", type=float, default=60, help="seconds measured per phase")
    p.add_argument("--warmup", type=float, default=5, help="seconds not measured per phase")
    p.add_argument("--reuse", action="store_true", help="keep an already seeded database")
    p.add_argument("--db-name", default="", help="default: <DATABASE_URL's name>_bench_http")
    p.add_argument("--redis-db", type=int, default=14)
    p.add_argument("--port", type=int, default=0, help="gunicorn's port (default: a free one)")
    return p.parse_args(argv)


# --- measurement ------------------------------------------------------------------------------
def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))] if s else float("nan")


def wait_for_live_runs(live: dict[int, str], running_file: Path, timeout: float = 180) -> None:
    """Until a live task runs in every project (or at least one, after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        for p in STARTED:
            p.check()
        rows = seeding.running_executions(live)
        running_file.write_text(json.dumps(rows))
        projects = len({slug for _, slug in rows})
        if projects >= len(live) or (rows and time.monotonic() > deadline):
            say(f"live tasks running in {projects} of {len(live)} projects")
            return
        if time.monotonic() > deadline + 120:
            raise TimeoutError("no live task started: is the executions worker keeping up?")
        time.sleep(1)


def run_phase(args, label: str, env: dict, files: dict, live: dict, *, pollers: int) -> dict:
    out = files["dir"] / f"samples-{label}.json"
    classes = ["PageClient"] + (["LogPoller"] if pollers else [])
    users = args.clients + pollers
    locust_env = {
        **env,
        "BENCH_HTTP_TARGETS": str(files["targets"]),
        "BENCH_HTTP_RUNNING": str(files["running"]),
        "BENCH_HTTP_OUT": str(out),
        "BENCH_HTTP_CLIENTS": str(args.clients),
        "BENCH_HTTP_POLLERS": str(pollers),
    }
    say(f"{label}: {args.clients} clients" + (f" + {pollers} live-log pollers" if pollers else ""))
    load_before = os.getloadavg()[0]
    locust = Proc(
        f"locust-{label}",
        " ".join(
            [
                "exec", str(Path(sys.executable).parent / "locust"), "-f", str(LOCUSTFILE),
                "--headless", "--only-summary", "--loglevel", "WARNING",
                "-u", str(users), "-r", str(users), "-t", f"{args.warmup + args.duration:.0f}s",
                "--stop-timeout", "5", "--host", files["host"], *classes,
            ]
        ),
        locust_env,
    )  # fmt: skip
    began, cpu_before = time.monotonic(), None
    while locust.popen.poll() is None:
        if cpu_before is None and time.monotonic() - began >= args.warmup:
            cpu_before, cpu_at = cpu_by_role(), time.monotonic()
        files["running"].write_text(json.dumps(seeding.running_executions(live)))
        for p in STARTED:
            if p is not locust:
                p.check()
        time.sleep(1)
    cpu_after, cpu_end = cpu_by_role(), time.monotonic()
    STARTED.remove(locust)
    locust.stop()
    if not out.exists():
        raise RuntimeError(f"locust wrote no samples:\n{locust.output()[-3000:]}")
    samples = json.loads(out.read_text())
    result = summarize(label, samples, args, load=(load_before, os.getloadavg()[0]))
    if cpu_before is not None:
        span = cpu_end - cpu_at
        cores = {k: round((cpu_after[k] - cpu_before[k]) / span, 2) for k in cpu_after}
        say("  CPU in cores, per process: " + ", ".join(f"{k} {v:.2f}" for k, v in cores.items()))
        result["cpu_cores"] = cores
    return result


def summarize(label: str, samples: list, args, *, load: tuple[float, float]) -> dict:
    start = min(t for t, *_ in samples) + args.warmup
    kept = [s for s in samples if s[0] >= start]
    window = max(t for t, *_ in kept) - start if kept else 0.0
    pages, errors = {}, {}
    for name in (*PAGES, "livelog_poller"):
        times = [ms for _, n, ms, ok in kept if n == name]
        errors[name] = sum(1 for _, n, _, ok in kept if n == name and not ok)
        if not times:
            continue
        pages[name] = {"p50_ms": round(pct(times, 50), 1), "p95_ms": round(pct(times, 95), 1),
                       "requests": len(times)}  # fmt: skip
        say(
            f"  {name:<16} p50 {pages[name]['p50_ms']:7.1f} ms   p95 {pages[name]['p95_ms']:7.1f}"
            f" ms   ({len(times)} requests, {errors[name]} errors)"
        )
    others = [ms for _, n, ms, _ in kept if n in OTHER_PAGES]
    client_requests = sum(1 for _, n, *_ in kept if n in PAGES)
    rps = client_requests / window if window else 0.0
    poller_rps = sum(1 for _, n, *_ in kept if n == "livelog_poller") / window if window else 0.0
    say(
        f"  clients: {rps:.1f} requests/s; pollers: {poller_rps:.1f} requests/s; other pages'"
        f" p95 {pct(others, 95):.1f} ms; load average {load[0]:.1f} → {load[1]:.1f}"
    )
    return {
        "rps": round(rps, 1),
        "poller_rps": round(poller_rps, 1),
        "pages": pages,
        "other_pages_p95_ms": round(pct(others, 95), 1),
        "errors": sum(errors.values()),
        "window_s": round(window, 1),
    }


def page_costs(targets: dict, running: list, rounds: int = 10) -> dict:
    """Each page rendered in this process (Django's test client, one request at a time): the
    CPU time Django spends on it and its SQL queries, whatever the machine's load."""
    import random

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(get_user_model().objects.get(username=seeding.USER))
    rnd = random.Random(7)
    out = {}
    for page in PAGES:
        cpu, wall, queries = [], [], []
        for _ in range(rounds + 2):
            p = rnd.choice(targets["projects"])
            slug, comp = p["slug"], rnd.choice(p["components"])
            url, headers = {
                "overview": (f"/p/{slug}/", {}),
                "dashboard": (f"/p/{slug}/c/{comp}/dashboard/?env=prod&range=7d", {}),
                "executions_list": (f"/p/{slug}/executions/?after={p['cursors'][1]}", {}),
                "log_search": (f"/p/{slug}/executions/?q=quota+exhausted", {}),
                "livelog": (
                    f"/p/{running[0][1]}/executions/{running[0][0]}/log/?after=1" if running
                    else f"/p/{slug}/", {"HTTP_HX_REQUEST": "true"},
                ),
            }[page]  # fmt: skip
            with CaptureQueriesContext(connection) as q:
                c0, w0 = time.process_time(), time.perf_counter()
                resp = client.get(url, **headers)
                c1, w1 = time.process_time(), time.perf_counter()
            assert resp.status_code in (200, 286), (url, resp.status_code)
            cpu.append((c1 - c0) * 1000)
            wall.append((w1 - w0) * 1000)
            queries.append(len(q.captured_queries))
        cpu, wall = cpu[2:], wall[2:]  # the first two warm caches up
        out[page] = {"cpu_ms": round(pct(cpu, 50), 1), "wall_ms": round(pct(wall, 50), 1),
                     "queries": max(queries)}  # fmt: skip
        say(f"  {page:<16} {out[page]['cpu_ms']:6.1f} ms CPU in Django, {out[page]['wall_ms']:6.1f}"
            f" ms wall, {out[page]['queries']} queries (median of {rounds}, one at a time)")  # fmt: skip
    connection.close()
    return out


def increase(before: float, after: float) -> float:
    return round(100.0 * (after - before) / before, 1) if before else float("nan")


def collect_static(call_command) -> None:
    """`collectstatic`, as `make run` does, unless its manifest is newer than every file of
    static/ (compressing every file again costs tens of seconds on a busy machine)."""
    from django.conf import settings

    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    sources = [p.stat().st_mtime for d in settings.STATICFILES_DIRS for p in Path(d).rglob("*")]
    if manifest.exists() and manifest.stat().st_mtime > max(sources, default=0):
        return
    say("collecting static files")
    call_command("collectstatic", interactive=False, verbosity=0)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


# --- main -------------------------------------------------------------------------------------
def main(argv=None) -> None:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    base = os.environ.get("DATABASE_URL", "postgres://chorus:chorus@127.0.0.1:5432/chorus")
    name = args.db_name or f"{urlsplit(base).path.lstrip('/') or 'chorus'}_bench_http"
    db_url, seeded = seeding.bench_database(base, name, reuse=args.reuse)
    r = urlsplit(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    redis_url = urlunsplit((r.scheme, r.netloc, f"/{args.redis_db}", "", ""))
    env = seeding.env_for_processes(db_url, redis_url)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL",
                                           "DJANGO_SETTINGS_MODULE", "SECRET_KEY",
                                           "CHORUS_ENCRYPTION_KEY", "DEBUG")})  # fmt: skip
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()
    import redis
    from django.core.management import call_command
    from django.db import connection

    from deployments.models import Deployment, Execution

    redis.Redis.from_url(redis_url).flushdb()
    t = time.perf_counter()
    if seeded:
        say(f"reusing the seeded database {name}")
        seeding.prepare_reuse()
    else:
        say(f"seeding {name}")
        seeding.seed(executions=args.executions, projects=args.projects,
                     components=args.components, days=args.days)  # fmt: skip
        say(f"seeded in {time.perf_counter() - t:.1f} s")
    collect_static(call_command)
    executions = Execution.objects.count()
    deployments = Deployment.objects.count()
    live = dict(
        Deployment.objects.filter(component__name="task-000", environment__slug="dev")
        .values_list("pk", "component__project__slug")
    )  # fmt: skip
    say(f"{executions:,} executions, {deployments} deployments, {len(live)} live tasks")
    tmp = Path(tempfile.mkdtemp(prefix="bench-http-"))
    port = args.port or free_port()
    files = {"dir": tmp, "targets": tmp / "targets.json", "running": tmp / "running.json",
             "host": f"http://127.0.0.1:{port}"}  # fmt: skip
    files["targets"].write_text(
        json.dumps(seeding.targets(seeding.sessions(args.clients + args.pollers), args.days))
    )
    seeding.skip_downtime()
    connection.close()
    try:
        start_portal(env, port)
        say("portal up; waiting for every project's live task to be running")
        wait_for_live_runs(live, files["running"])
        say("cost of one request per page, in this process, before the load:")
        costs = page_costs(json.loads(files["targets"].read_text()),
                           json.loads(files["running"].read_text()))  # fmt: skip
        plain = run_phase(args, "phase 1", env, files, live, pollers=0)
        polled = run_phase(args, "phase 2", env, files, live, pollers=args.pollers)
    except KeyboardInterrupt:
        say("interrupted; stopping every process")
        raise SystemExit(130) from None
    finally:
        stop_all()
    rise = increase(plain["other_pages_p95_ms"], polled["other_pages_p95_ms"])
    per_page = {
        p: increase(plain["pages"][p]["p95_ms"], polled["pages"][p]["p95_ms"])
        for p in OTHER_PAGES
        if p in plain["pages"] and p in polled["pages"]
    }
    say(f"with {args.pollers} pollers the other pages' p95 rose {rise:+.1f} % ({per_page})")
    print(
        json.dumps(
            {
                "clients": args.clients,
                "executions": executions,
                "deployments": deployments,
                "rps": plain["rps"],
                "pages": {
                    k: {"p50_ms": v["p50_ms"], "p95_ms": v["p95_ms"]}
                    for k, v in plain["pages"].items()
                },  # fmt: skip
                "errors": plain["errors"] + polled["errors"],
                "pollers": args.pollers,
                "rps_with_pollers": polled["rps"],
                "poller_rps": polled["poller_rps"],
                "pages_with_pollers": {
                    k: {"p50_ms": v["p50_ms"], "p95_ms": v["p95_ms"]}
                    for k, v in polled["pages"].items()
                },  # fmt: skip
                "livelog_50_p95_increase_pct": rise,
                "p95_increase_pct_per_page": per_page,
                "cost_per_request": costs,
                "cpu_cores": plain.get("cpu_cores"),
                "cpu_cores_with_pollers": polled.get("cpu_cores"),
            }
        )
    )


if __name__ == "__main__":
    signal.signal(signal.SIGINT, _interrupt)
    main()
