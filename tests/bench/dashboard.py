"""Benchmark: overview, dashboard and executions list over 1,000,000 executions (not a test).

    DATABASE_URL=postgres://chorus:chorus@127.0.0.1:5432/chorus .venv/bin/python tests/bench/dashboard.py

Works in its own database, `<DATABASE_URL's name>_bench_dashboard`, created afresh (dropped
at the start of the next run, kept afterwards for EXPLAIN). Loads the executions with one
generate_series INSERT per deployment, builds the hourly rollups with the same service the
periodic task uses, then renders each page through Django's test Client as a logged-in owner
and prints p50 / p95 per page. The last line is one JSON object.

Options (environment): BENCH_EXECUTIONS (default 1000000), BENCH_COMPONENTS (20, each
deployed to dev and prod), BENCH_DAYS (30), BENCH_ROUNDS (100 requests per page).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

EXECUTIONS = int(os.environ.get("BENCH_EXECUTIONS", "1000000"))
COMPONENTS = int(os.environ.get("BENCH_COMPONENTS", "20"))
DAYS = int(os.environ.get("BENCH_DAYS", "30"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "100"))
WARMUP = 5


def bench_database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("set DATABASE_URL to a PostgreSQL database (the benchmark is about PostgreSQL)")
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "chorus"
    bench = f"{name}_bench_dashboard"
    import psycopg

    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin.replace("postgres://", "postgresql://", 1), autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{bench}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{bench}"')
    return urlunsplit((parts.scheme, parts.netloc, f"/{bench}", parts.query, ""))


def step(msg: str) -> float:
    print(f"[bench] {msg}", flush=True)
    return time.perf_counter()


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ["DEBUG"] = "false"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = ["*"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("migrate", verbosity=0)


def load() -> tuple:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from portal.services import project_create
    from tests.support.obs import make_component, make_deployment

    user = get_user_model().objects.create_user("alice", password="bench-password-1")
    project = project_create(name="Bench", description="1M executions", actor=user)
    deployments = []
    for i in range(COMPONENTS):
        component = make_component(project, f"task-{i:02d}")
        for env in ("dev", "prod"):
            deployments.append(make_deployment(component, env=env, schedule="*/2 * * * *"))
    per = EXECUTIONS // len(deployments)
    now = timezone.now().replace(microsecond=0)
    span = DAYS * 86400
    t = step(f"loading {per * len(deployments):,} executions ({per:,} per deployment)")
    with connection.cursor() as cur:
        for d in deployments:
            # Ticks evenly spread over DAYS, newest just before now; status by a cheap hash.
            cur.execute(
                """
                INSERT INTO deployments_execution (
                    deployment_id, build_id, scheduled_for, attempt, trigger, status, reason,
                    queued_at, started_at, finished_at, fire_lag_seconds, duration_seconds,
                    exit_code, image_ref, image_digest, config_revision, container_id, worker,
                    celery_task_id, cancel_requested, log_bytes, log_truncated)
                SELECT %(d)s, %(b)s, ts, 1, 'schedule', st,
                    CASE WHEN st IN ('missed', 'skipped') THEN 'bench' ELSE '' END,
                    ts, ts + lag * interval '1 second',
                    ts + (lag + dur) * interval '1 second',
                    CASE WHEN st IN ('missed', 'skipped') THEN NULL ELSE lag END,
                    CASE WHEN st IN ('missed', 'skipped') THEN NULL ELSE dur END,
                    CASE WHEN st = 'succeeded' THEN 0 WHEN st = 'failed' THEN 1 END,
                    'bench:img', '', 1, '', '', '', false, 0, false
                FROM (
                    SELECT %(now)s::timestamptz - (g * %(step)s) * interval '1 second' AS ts,
                        (g %% 997) / 997.0 * 0.8 + 0.02 AS lag,
                        1 + (g %% 113) / 4.0 AS dur,
                        CASE WHEN g %% 100 < 90 THEN 'succeeded'
                             WHEN g %% 100 < 96 THEN 'failed'
                             WHEN g %% 100 = 96 THEN 'timed_out'
                             WHEN g %% 100 = 97 THEN 'missed'
                             WHEN g %% 100 = 98 THEN 'skipped'
                             ELSE 'cancelled' END AS st
                    FROM generate_series(1, %(n)s) AS g
                ) AS s
                """,
                {"d": d.pk, "b": d.build_id, "now": now, "step": span / per, "n": per},
            )
        # Some output to search: two lines for every 10th execution, one with a rare word.
        cur.execute(
            """
            INSERT INTO deployments_executionlogline (execution_id, seq, ts, stream, text, level)
            SELECT e.id, k, e.scheduled_for, 'stdout',
                CASE WHEN k = 2 AND e.id % 1000 = 0 THEN 'ERROR upstream quota exhausted id='
                     || e.id ELSE 'processed ' || (e.id % 5000) || ' rows in batch' END,
                CASE WHEN k = 2 AND e.id % 1000 = 0 THEN 40 ELSE 20 END
            FROM deployments_execution e, generate_series(1, 2) AS k
            WHERE e.id % 10 = 0
            """
        )
    with connection.cursor() as cur:
        # What autovacuum would soon do anyway; left to it, it lands in the middle of the
        # measurements (fresh tables have no visibility map and stale statistics).
        cur.execute("VACUUM (ANALYZE) deployments_execution")
        cur.execute("VACUUM (ANALYZE) deployments_executionlogline")
    print(f"[bench]   loaded in {time.perf_counter() - t:.1f}s", flush=True)
    return user, project, deployments


def build_rollups() -> None:
    import datetime as dt

    from django.db import connection
    from django.utils import timezone

    from observability.services.rollups import rollup_recompute_range

    t = step("building hourly rollups from raw rows (rollup_recompute_range)")
    changed = rollup_recompute_range(start=timezone.now() - dt.timedelta(days=DAYS + 1))
    with connection.cursor() as cur:
        cur.execute("VACUUM (ANALYZE) observability_hourlyrollup")
    print(f"[bench]   {changed:,} rollup rows in {time.perf_counter() - t:.1f}s", flush=True)


def measure(client, label: str, urls: list[str]) -> dict:
    for u in urls[:WARMUP]:
        assert client.get(u).status_code == 200, u
    samples = []
    for i in range(ROUNDS):
        u = urls[i % len(urls)]
        t = time.perf_counter()
        resp = client.get(u)
        samples.append((time.perf_counter() - t) * 1000)
        assert resp.status_code == 200, (u, resp.status_code)
    samples.sort()
    p50 = statistics.median(samples)
    p95 = samples[max(0, int(round(0.95 * len(samples))) - 1)]
    print(f"[bench] {label:<28} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   ({len(samples)} requests)")
    return {"p50": round(p50, 1), "p95": round(p95, 1)}


def main() -> None:
    url = bench_database_url()
    setup_django(url)
    from django.test import Client

    from deployments.executions.selectors import encode_cursor
    from deployments.models import Execution

    user, project, deployments = load()
    build_rollups()
    total = Execution.objects.count()

    client = Client()
    client.force_login(user)
    slug = project.slug
    comps = [f"task-{i:02d}" for i in range(COMPONENTS)]

    # Deep pages: cursors from the middle and the end of the table (keyset, no OFFSET).
    mid = Execution.objects.order_by("-scheduled_for", "-id").values_list("scheduled_for", "id")[
        total // 2
    ]
    deep = Execution.objects.order_by("scheduled_for", "id").values_list("scheduled_for", "id")[10]
    results = {
        "overview": measure(client, "overview /p/<slug>/", [f"/p/{slug}/"]),
        "dashboard_24h": measure(
            client,
            "dashboard 24h",
            [f"/p/{slug}/c/{c}/dashboard/?env=prod&range=24h" for c in comps],
        ),
        "dashboard_7d": measure(
            client,
            "dashboard 7d",
            [f"/p/{slug}/c/{c}/dashboard/?env=prod&range=7d" for c in comps],
        ),
        "dashboard_30d": measure(
            client,
            "dashboard 30d",
            [f"/p/{slug}/c/{c}/dashboard/?env=dev&range=30d" for c in comps],
        ),
        "executions_list": measure(
            client,
            "executions list (pages)",
            [
                f"/p/{slug}/executions/",
                f"/p/{slug}/executions/?after={encode_cursor(*mid)}",
                f"/p/{slug}/executions/?after={encode_cursor(*deep)}",
                f"/p/{slug}/executions/?status=failed",
                f"/p/{slug}/executions/?component=task-03&env=prod",
                f"/p/{slug}/executions/?status=missed&trigger=schedule&after={encode_cursor(*mid)}",
            ],
        ),
        "executions_search": measure(
            client,
            "executions log search (7 d)",
            [
                f"/p/{slug}/executions/?q=quota+exhausted",
                f"/p/{slug}/executions/?q=quota+exhausted&component=task-07",
                f"/p/{slug}/executions/?q=processed",  # matches 10 % of all executions
            ],
        ),
    }
    summary = {
        "executions": total,
        "overview_p95_ms": results["overview"]["p95"],
        "dashboard_p95_ms": max(results[k]["p95"] for k in results if k.startswith("dashboard")),
        "executions_list_p95_ms": results["executions_list"]["p95"],
        "executions_search_p95_ms": results["executions_search"]["p95"],
        "dashboard_24h_p95_ms": results["dashboard_24h"]["p95"],
        "dashboard_30d_p95_ms": results["dashboard_30d"]["p95"],
        "overview_p50_ms": results["overview"]["p50"],
        "dashboard_p50_ms": results["dashboard_24h"]["p50"],
        "executions_list_p50_ms": results["executions_list"]["p50"],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
