"""One fault scenario with real processes: seed deployments, run a beat and two executions
workers against a broker (and maybe a database) of the scenario's own, apply the fault while
ticks fire, let the reconciler finish what it must, and snapshot rows and containers.

Each scenario has its own broker (a private Redis), its own installation label and its own
database (the test database, or a private cluster through `Db(url)`): independent, so
test_service_restarts.py runs them at the same time.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.support.container_events import ContainerCounter, engine_client
from tests.support.processes import ROOT, Proc, start_beat, start_worker

# As live.py's: a lost run is finished within seconds (the machine may be busy: not too few).
PROCESS_ENV = {
    "CHORUS_DB_POOL_SIZE": "6",
    "CHORUS_RECONCILE_INTERVAL": "2",
    "CHORUS_EXECUTION_STALE_SECONDS": "15",
    "CHORUS_EXECUTION_HEARTBEAT_SECONDS": "1",
}
FINAL = ("succeeded", "failed", "timed_out", "cancelled", "missed", "skipped", "partial")


def task_image(client, script: str, tag: str) -> str:
    """An image FROM the offline busybox base on `client`'s engine: `sh -c <script>`."""
    from deployments.builds.baseimages.busybox import ensure_busybox_image
    from tests.support.builds import BUSYBOX_BASE

    ensure_busybox_image(client, tag=BUSYBOX_BASE, log=lambda line: None)
    dockerfile = f"FROM {BUSYBOX_BASE}\nCMD {json.dumps(['sh', '-c', script])}\n".encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    buf.seek(0)
    client.images.build(fileobj=buf, custom_context=True, tag=tag, rm=True, pull=False)
    return tag


@dataclass
class Outcome:
    rows: dict[int, list[dict]]  # deployment id -> executions (live.snapshot), oldest first
    containers: Counter  # execution id -> containers the engine created for it
    fault_at: float = 0.0  # Unix time the fault began
    back_at: float = 0.0  # ... and ended
    # Ticks from `since` (the beat started; earlier ones were caught up) up to `until` are
    # checked (later ones met a stopping beat).
    since: float = 0.0
    until: float = 0.0
    logs: dict[str, str] = field(default_factory=dict)  # process name -> its output
    left: list = field(default_factory=list)  # containers of the scenario still on the engine
    # Processes that had exited by themselves before the scenario stopped them.
    exited: list[str] = field(default_factory=list)


class Db:
    """Where the scenario's rows live: the test database (in this process) or a private
    cluster (through `python -m tests.support.fault_data` with its DATABASE_URL)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url

    def _sub(self, command: str, arg) -> dict:
        import os

        out = subprocess.run(
            [sys.executable, "-m", "tests.support.fault_data", command, json.dumps(arg)],
            cwd=ROOT, env={**os.environ, "DATABASE_URL": self.url}, capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip
        if out.returncode != 0:
            raise RuntimeError(f"fault_data {command} failed:\n{out.stdout}\n{out.stderr}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    def seed(self, spec: dict) -> dict:
        if self.url:
            return self._sub("seed", spec)
        from tests.support.fault_data import seed

        return seed(spec)

    def snapshot(self, ids: list[int]) -> dict[int, list[dict]]:
        from tests.support.fault_data import parse_snapshot, snapshot

        if self.url:
            return parse_snapshot(self._sub("snapshot", ids))
        from django.db import connection

        connection.close()  # a fresh connection sees the other processes' commits
        return snapshot(ids)

    def delete(self, seeded: dict) -> None:
        if not self.url:
            from tests.support.fault_data import delete

            delete(seeded)


def run_scenario(
    name: str,
    *,
    spec: dict,
    broker_url: str,
    installation: str,
    fault: Callable[[ContainerCounter], None],
    db: Db | None = None,
    docker_url: str | None = None,
    before: float = 6.0,
    after: float = 8.0,
    settle_timeout: float = 90.0,
    extra_env: dict[str, str] | None = None,
) -> Outcome:
    """Seed `spec`, run beat + two executions workers for `before` s, call `fault(counter)`,
    run `after` s more, wait until every execution of a tick so far is final, snapshot."""
    db = db or Db()
    seeded = db.seed(spec)
    ids = list(seeded["deployments"].values())
    env = {
        **PROCESS_ENV,
        "REDIS_URL": broker_url,
        "CELERY_BROKER_URL": broker_url,
        "CHORUS_INSTALLATION": installation,
        **({"DATABASE_URL": db.url} if db.url else {}),
        **(extra_env or {}),
    }
    counter = ContainerCounter(docker_url, installation).start()
    procs: list[Proc] = []
    outcome = Outcome(rows={}, containers=Counter())
    try:
        for n in (1, 2):
            procs.append(
                start_worker(
                    f"faults-{name}-worker-{n}",
                    pool="threads",
                    concurrency=16,
                    queues="chorus,executions",
                    extra_env=env,
                )  # fmt: skip
            )
        beat = start_beat(f"faults-{name}-beat", extra_env=env)
        procs.append(beat)
        outcome.since = time.time()
        time.sleep(before)
        outcome.fault_at = time.time()
        fault(counter)
        outcome.back_at = time.time()
        time.sleep(after)
        outcome.until = time.time()
        # Ticks up to now finish, with the beat still there to send the reconciler (it ends
        # runs whose worker was lost); later ones are not looked at.
        deadline = time.monotonic() + settle_timeout
        while time.monotonic() < deadline:
            rows = db.snapshot(ids)
            if all(
                r["status"] in FINAL
                for dep in rows.values()
                for r in dep
                if r["scheduled_for"].timestamp() <= outcome.until
            ):
                break
            time.sleep(1)
        outcome.exited = [p.name for p in procs if p.popen.poll() is not None]
        beat.stop()
        if docker_url is not None or spec["environments"][0]["runtime_kind"] == "docker":
            outcome.left = _left(docker_url, installation)
        outcome.rows = db.snapshot(ids)
    finally:
        for p in procs:
            p.stop()
        outcome.containers = counter.stop()
        outcome.logs = {p.name: p.output() for p in procs}
        db.delete(seeded)
    return outcome


def _left(docker_url: str | None, installation: str, timeout: float = 90) -> list[str]:
    """Containers of this installation still on the engine after the workers removed theirs
    and the reconciler its orphans (given `timeout` s)."""
    from deployments.installation import LABEL

    client = engine_client(docker_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = [
                c["Id"]
                for c in client.api.containers(
                    all=True, filters={"label": [f"{LABEL}={installation}"]}
                )
            ]
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(1)
    finally:
        client.close()
