"""Start real Celery worker and beat processes against the test database and Redis.

Use with pytest-django's `transactional_db` or `live_server` (data must be committed for another
process to see it). The processes get DATABASE_URL of the *test* database and the suite's
REDIS_URL (its queue is flushed first, so messages of an earlier test cannot leak in).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOG_DIR = ROOT / "var" / "test-processes"


def test_database_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    if "postgresql" not in s["ENGINE"]:
        raise RuntimeError("live worker tests need PostgreSQL (set DATABASE_URL)")
    return (
        f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/"
        f"{s['NAME']}"
    )


def redis_url() -> str:
    url = os.environ.get("REDIS_URL")
    if not url:
        raise RuntimeError("live worker tests need Redis (set REDIS_URL)")
    return url


def flush_broker() -> None:
    import redis

    redis.Redis.from_url(redis_url()).flushdb()


def process_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": redis_url(),
            "CELERY_BROKER_URL": redis_url(),
            "DB_CONN_MAX_AGE": "0",
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "portal.settings",
        }
    )
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    env.update(extra)
    return env


class Proc:
    def __init__(self, name: str, args: list[str], env: dict[str, str]):
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = LOG_DIR / f"{name}-{int(time.time() * 1000)}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.output()[-3000:]}")
            time.sleep(0.2)
        raise TimeoutError(
            f"{self.name} did not print {text!r} in {timeout}s:\n{self.output()[-3000:]}"
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (a prefork worker's children too)."""
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)
        self._log.close()


def start_worker(
    name: str = "worker",
    *,
    concurrency: int = 2,
    queues: str = "chorus,builds,executions",
    pool: str = "prefork",
    extra_env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
) -> Proc:
    args = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "portal",
        "worker",
        "--loglevel=INFO",
        f"--concurrency={concurrency}",
        f"--pool={pool}",
        "-Q",
        queues,
        "-n",
        f"{name}@%h",
        "--without-gossip",
        "--without-mingle",
        *(extra_args or []),
    ]
    p = Proc(name, args, process_env(**(extra_env or {})))
    p.wait_for("ready.", timeout=60)
    return p


def start_beat(name: str = "beat", *, extra_env: dict[str, str] | None = None) -> Proc:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    args = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "portal",
        "beat",
        "--loglevel=INFO",
        f"--pidfile={LOG_DIR / (name + '.pid')}",
        f"--schedule={LOG_DIR / (name + '.db')}",
    ]
    p = Proc(name, args, process_env(**(extra_env or {})))
    p.wait_for("beat: Starting", timeout=60)
    return p


@contextmanager
def running(*procs_factories):
    """Start processes from factories; stop them all at the end, whatever happens."""
    procs: list[Proc] = []
    try:
        for make in procs_factories:
            procs.append(make())
        yield procs
    finally:
        for p in procs:
            p.stop()
