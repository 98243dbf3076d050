"""The data of tests/bench/http_load.py: its database, projects, 1,000 live deployments and
1,000,000 executions written by SQL (generate_series), with log lines and hourly rollups.

Layout: P projects of C components, each deployed to Development and Production on
`* * * * *` with the `record` runtime (P × C × 2 deployments, 1,000 by default). Their
history is spread unevenly: a deployment's share of the executions has ten weights (1 to 10),
its ticks on whole minutes over the last DAYS days, so some tasks ran every half hour and
others every few hours; 90 % succeeded, 6 % failed, 1 % each timed out, missed, skipped and
cancelled. Every 10th execution has two log lines, one in a thousand with a rare phrase
("quota exhausted") for the log search. One task per project (its Development deployment) runs
for 90 s (`RECORD_SLEEP`, concurrency Allow), so every project always has a running execution
whose live log the clients poll.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from urllib.parse import urlsplit, urlunsplit

USER = "bench"
PASSWORD = "bench-password-1"  # noqa: S105 - a benchmark database of its own
LIVE_SLEEP = "90"


def say(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def bench_database(base_url: str, name: str, *, reuse: bool) -> tuple[str, bool]:
    """The benchmark's database URL, and whether it already holds a seeded database."""
    if not base_url.startswith(("postgres://", "postgresql://")):
        sys.exit("set DATABASE_URL to a PostgreSQL database (the benchmark is about PostgreSQL)")
    import psycopg

    parts = urlsplit(base_url)
    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    with psycopg.connect(admin, autocommit=True) as c:
        exists = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and reuse:
            target = urlunsplit(("postgresql", parts.netloc, f"/{name}", "", ""))
            with psycopg.connect(target) as t:
                seeded = (
                    t.execute("SELECT to_regclass('deployments_execution') IS NOT NULL").fetchone()[
                        0
                    ]
                    and t.execute(
                        "SELECT EXISTS (SELECT 1 FROM auth_user WHERE username = %s)", [USER]
                    ).fetchone()[0]
                )
            if seeded:
                return url, True
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"')
    return url, False


def seed(*, executions: int, projects: int, components: int, days: int) -> None:
    from django.core.management import call_command

    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    say(f"migrated in {time.perf_counter() - t:.1f} s")
    deployments = _create_deployments(projects, components)
    _insert_executions(deployments, executions, days)
    _build_rollups(days)


def _create_deployments(projects: int, components: int) -> list[int]:
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone
    from django_celery_beat.models import CrontabSchedule, PeriodicTask, PeriodicTasks

    from components.models import Component
    from deployments.deploy.services.config import config_set
    from deployments.models import Build, Deployment, Environment
    from portal.services import project_create

    user = get_user_model().objects.create_user(USER, password=PASSWORD)
    envs = list(Environment.objects.filter(slug__in=("dev", "prod")).order_by("order"))
    for env in envs:
        env.runtime_kind = "record"
        env.save(update_fields=["runtime_kind"])
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="*", hour="*", day_of_month="*", month_of_year="*", day_of_week="*", timezone="UTC"
    )
    now = timezone.now()
    ids: list[int] = []
    with transaction.atomic():
        for p in range(projects):
            project = project_create(name=f"Bench {p:02d}", description="http load", actor=user)
            comps = Component.objects.bulk_create(
                [
                    Component(
                        project=project,
                        name=f"task-{i:03d}",
                        source_kind=Component.SourceKind.SAMPLE,
                        sample_key="hello",
                        preset=Component.Preset.PYTHON,
                        entry_command="python3 main.py",
                        created_by=user,
                    )
                    for i in range(components)
                ]
            )
            builds = Build.objects.bulk_create(
                [
                    Build(
                        component=c,
                        commit_sha=f"{c.pk:040x}",
                        status=Build.Status.SUCCEEDED,
                        preset="python",
                        image_ref=f"chorus/{project.slug}/{c.name}:bench",
                        image_digest=f"sha256:{c.pk:064x}",
                        finished_at=now - dt.timedelta(days=60),
                    )
                    for c in comps
                ]
            )
            rows = Deployment.objects.bulk_create(
                [
                    Deployment(
                        component=c,
                        environment=env,
                        build=b,
                        schedule="* * * * *",
                        timezone="UTC",
                        # The live task (task-000 in Development) overlaps its next tick.
                        concurrency_policy="allow" if c.name == "task-000" else "forbid",
                        starting_deadline_seconds=600 if c.name == "task-000" else 60,
                        keep_successes=100_000,
                        keep_failures=100_000,
                        keep_days=90,
                        created_at=now - dt.timedelta(days=60),
                        deployed_by=user,
                    )
                    for c, b in zip(comps, builds, strict=True)
                    for env in envs
                ]
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
                    for d in rows
                ]
            )
            for d, pt in zip(rows, tasks, strict=True):
                d.periodic_task = pt
            Deployment.objects.bulk_update(rows, ["periodic_task"])
            ids += [d.pk for d in rows]
            config_set(
                component=comps[0],
                environment=envs[0],
                key="RECORD_SLEEP",
                value=LIVE_SLEEP,
                is_secret=False,
                actor=user,
            )
        PeriodicTasks.update_changed()
    say(f"{projects} projects, {len(ids)} deployments on * * * * * (record runtime)")
    return ids


def _insert_executions(deployments: list[int], total: int, days: int) -> None:
    from django.db import connection

    weights = [1 + (i * 7919) % 10 for i in range(len(deployments))]
    counts = [total * w // sum(weights) for w in weights]
    counts[-1] += total - sum(counts)
    span = days * 86400
    steps = [max(60, span // max(n, 1) // 60 * 60) for n in counts]
    t = time.perf_counter()
    say(f"inserting {total:,} executions over {days} days")
    with connection.cursor() as cur:
        # Ticks on whole minutes, the newest two minutes ago (the live ticks come after).
        cur.execute(
            """
            INSERT INTO deployments_execution (
                deployment_id, build_id, scheduled_for, attempt, trigger, status, reason,
                queued_at, started_at, finished_at, fire_lag_seconds, duration_seconds,
                exit_code, image_ref, image_digest, config_revision, container_id, worker,
                celery_task_id, cancel_requested, log_bytes, log_truncated)
            SELECT d.id, dep.build_id, ts, 1, 'schedule', st,
                CASE WHEN st IN ('missed', 'skipped') THEN 'bench' ELSE '' END,
                ts, ts + lag * interval '1 second', ts + (lag + dur) * interval '1 second',
                CASE WHEN st IN ('missed', 'skipped') THEN NULL ELSE lag END,
                CASE WHEN st IN ('missed', 'skipped') THEN NULL ELSE dur END,
                CASE WHEN st = 'succeeded' THEN 0 WHEN st = 'failed' THEN 1 END,
                'bench:img', '', 1, '', '', '', false, 0, false
            FROM unnest(%(ids)s::bigint[], %(counts)s::int[], %(steps)s::int[]) AS d(id, n, step)
            JOIN deployments_deployment dep ON dep.id = d.id
            CROSS JOIN LATERAL (
                SELECT date_trunc('minute', now()) - interval '2 minutes'
                        - (g * d.step) * interval '1 second' AS ts,
                    (g %% 997) / 997.0 * 0.8 + 0.02 AS lag,
                    1 + (g %% 113) / 4.0 AS dur,
                    CASE WHEN (g + d.id) %% 100 < 90 THEN 'succeeded'
                         WHEN (g + d.id) %% 100 < 96 THEN 'failed'
                         WHEN (g + d.id) %% 100 = 96 THEN 'timed_out'
                         WHEN (g + d.id) %% 100 = 97 THEN 'missed'
                         WHEN (g + d.id) %% 100 = 98 THEN 'skipped'
                         ELSE 'cancelled' END AS st
                FROM generate_series(0, d.n - 1) AS g
            ) AS s
            """,
            {"ids": deployments, "counts": counts, "steps": steps},
        )
        say(f"  executions in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        cur.execute(
            """
            INSERT INTO deployments_executionlogline (execution_id, seq, ts, stream, text, level)
            SELECT e.id, k, e.scheduled_for + k * interval '1 second',
                CASE WHEN k = 2 AND e.id % 1000 = 0 THEN 'stderr' ELSE 'stdout' END,
                CASE WHEN k = 2 AND e.id % 1000 = 0
                     THEN 'ERROR upstream quota exhausted id=' || e.id
                     ELSE 'processed ' || (e.id % 5000) || ' rows in batch ' || k END,
                CASE WHEN k = 2 AND e.id % 1000 = 0 THEN 40 ELSE 20 END
            FROM deployments_execution e, generate_series(1, 2) AS k
            WHERE e.id % 10 = 0
            """
        )
        say(f"  {cur.rowcount:,} log lines in {time.perf_counter() - t:.1f} s")
    # What autovacuum would soon do anyway; left to it, it lands in the measurement.
    _vacuum("deployments_execution", "deployments_executionlogline")


def _vacuum(*tables: str) -> None:
    from django.db import connection

    if connection.in_atomic_block:  # a test's transaction: VACUUM cannot run inside one
        return
    t = time.perf_counter()
    with connection.cursor() as cur:
        for table in tables:
            cur.execute(f"VACUUM (ANALYZE) {table}")
    say(f"  vacuum and analyze in {time.perf_counter() - t:.1f} s")


def _build_rollups(days: int) -> None:
    """The hourly rollups and totals, aggregated by the rollup service's own grouped query
    (aggregate_raw) and written with COPY: the service's row-by-row upsert, right for the
    few hours a periodic repair touches, takes over ten minutes for 600,000 fresh rows."""

    from django.db import connection
    from django.utils import timezone

    from deployments.models import Execution
    from observability.models import STATUS_FIELDS
    from observability.services.rollups import aggregate_raw, hour_floor

    t = time.perf_counter()
    start = hour_floor(timezone.now() - dt.timedelta(days=days + 1))
    fresh = aggregate_raw(Execution.objects.filter(scheduled_for__gte=start))
    say(f"  aggregated {len(fresh):,} deployment-hours in {time.perf_counter() - t:.1f} s")
    fields = [*STATUS_FIELDS, "duration_count", "duration_sum", "duration_max", "duration_hist",
              "lag_count", "lag_sum", "lag_max", "lag_hist"]  # fmt: skip
    now = timezone.now()
    totals: dict[int, dict] = {}
    for (deployment_id, _), row in fresh.items():
        total = totals.setdefault(deployment_id, {})
        for f in fields:
            if f.endswith("_hist"):
                old = total.get(f) or [0] * len(row[f])
                total[f] = [a + b for a, b in zip(old, row[f], strict=True)]
            elif f.endswith("_max"):
                total[f] = max(total.get(f, 0), row[f])
            else:
                total[f] = total.get(f, 0) + row[f]

    def value(f, v):
        return json.dumps(v) if f.endswith("_hist") else v

    cols = ", ".join(fields)
    with connection.cursor() as cur:
        raw = cur.cursor
        with raw.copy(
            f"COPY observability_hourlyrollup (deployment_id, hour, updated_at, {cols}) FROM STDIN"
        ) as copy:
            for (deployment_id, hour), row in fresh.items():
                copy.write_row([deployment_id, hour, now, *(value(f, row[f]) for f in fields)])
        with raw.copy(
            f"COPY observability_deploymenttotals (deployment_id, updated_at, {cols}) FROM STDIN"
        ) as copy:
            for deployment_id, row in totals.items():
                copy.write_row([deployment_id, now, *(value(f, row[f]) for f in fields)])
    _vacuum("observability_hourlyrollup")
    say(f"{len(fresh):,} hourly rollup rows in {time.perf_counter() - t:.1f} s")


def prepare_reuse() -> None:
    """A reused database: migrations of newer code, no run left over from the last one."""
    from django.core.management import call_command

    from deployments.models import Deployment, Execution

    call_command("migrate", verbosity=0)
    Deployment.objects.filter(component__name="task-000").update(starting_deadline_seconds=600)
    Execution.objects.filter(status__in=Execution.ACTIVE).update(
        status=Execution.Status.CANCELLED, reason="benchmark restarted"
    )


def skip_downtime() -> None:
    """Ticks from now on: the minutes since the seed (or the last run) were no scheduler
    outage, so beat has nothing to catch up (it would record each one as missed)."""
    from django.utils import timezone

    from deployments.models import Deployment

    Deployment.objects.update(last_tick_at=timezone.now())


def targets(session_keys: list[str], days: int) -> dict:
    """What the load generator requests: per project its components, live deployment, and
    cursors into its history; plus the sessions of logged-in users."""
    from deployments.executions.selectors import encode_cursor
    from deployments.models import Deployment
    from portal.models import Project

    now = dt.datetime.now(dt.UTC)
    projects = []
    for project in Project.objects.filter(slug__startswith="bench-").order_by("slug"):
        comps = sorted(project.components.values_list("name", flat=True))
        live = Deployment.objects.get(component__project=project, component__name="task-000",
                                      environment__slug="dev")  # fmt: skip
        cursors = [
            encode_cursor(now - dt.timedelta(days=d, minutes=17), 2**62)
            for d in (1, days // 4, days // 2, days - 1)
        ]
        projects.append(
            {"slug": project.slug, "components": comps, "live": live.pk, "cursors": cursors}
        )
    return {"projects": projects, "sessions": session_keys}


def sessions(n: int) -> list[str]:
    """Session keys of the bench user, logged in as the login view would (one per client)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.get(username=USER)
    keys = []
    for _ in range(n):
        client = Client()
        client.force_login(user)
        keys.append(client.cookies["sessionid"].value)
    return keys


def bench_keys() -> dict[str, str]:
    """Fixed secrets for the benchmark's production-mode processes (a reused database keeps
    decrypting what the last run encrypted)."""
    import base64
    import hashlib

    key = base64.urlsafe_b64encode(hashlib.sha256(b"chorus-bench-http").digest()).decode()
    return {
        "SECRET_KEY": hashlib.sha256(b"chorus-bench-http-secret").hexdigest(),
        "CHORUS_ENCRYPTION_KEY": key,
    }


def running_executions(live: dict[int, str]) -> list[list]:
    """[execution id, project slug] of the live deployments' running executions."""
    from django.db import connection

    from deployments.models import Execution

    connection.close_if_unusable_or_obsolete()
    rows = Execution.objects.filter(deployment_id__in=list(live), status="running").values_list(
        "pk", "deployment_id"
    )
    return [[pk, live[did]] for pk, did in rows]


def env_for_processes(db_url: str, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(bench_keys())
    env.update(
        {
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "CHORUS_ENV": "production",
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    return env
