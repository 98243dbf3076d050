"""Services of a test's own that it may restart: a Redis server, a PostgreSQL cluster, and
the second Docker engine (engine B, started by scripts/services.sh).

The machine's Redis (6379) and PostgreSQL (5432) serve every test running on it, so the fault
tests never restart those: they start a private server on a free port in a temporary folder,
point the beat and workers at it, and restart that one. Engine B is shared by the registry
tests, so it is restarted with exactly the command line it runs with, and is always waited for
until it answers again.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .processes import LOG_DIR, ROOT
from .registry import DOCKER_B, free_port


def _wait(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} within {timeout} s")


# --- Redis --------------------------------------------------------------------------------------
class RedisServer:
    """redis-server on 127.0.0.1:<free port>, persisting as docker-compose's does (AOF), so a
    restart keeps what was queued, as it does in production."""

    def __init__(self) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed: bash scripts/services.sh install")
        self.dir = Path(tempfile.mkdtemp(prefix="chorus-redis-"))
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = open(LOG_DIR / f"redis-{self.port}.log", "ab")  # noqa: SIM115 - owned by Popen
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir",
             str(self.dir), "--appendonly", "yes", "--save", ""],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        _wait(self.answers, 20, f"redis-server on {self.port} did not answer")
        return self

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        """A clean shutdown (SIGTERM, as `docker compose restart` sends): the AOF is flushed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def restart(self, down_for: float = 1.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- PostgreSQL -----------------------------------------------------------------------------------
def _pg_bin() -> Path:
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3])
    )
    if not versions:
        raise RuntimeError("PostgreSQL is not installed: bash scripts/services.sh install")
    return versions[-1].parent


class PostgresCluster:
    """A PostgreSQL cluster of the test's own (initdb in a temporary folder, run as the
    `postgres` user since initdb refuses root), on 127.0.0.1:<free port>, database `chorus`."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="chorus-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgres://chorus:chorus@127.0.0.1:{self.port}/chorus"
        self.log = LOG_DIR / f"postgres-{self.port}.log"
        self._user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *args: str, timeout: float = 120) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self._user:
            cmd = ["runuser", "-u", self._user, "--", *cmd]
        out = subprocess.run(cmd, cwd="/", capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {out.stdout}{out.stderr}")

    def _pg_ctl(self, *args: str) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
            "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            *args,
        )  # fmt: skip

    def start(self) -> PostgresCluster:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log.touch()
        if self._user:
            info = pwd.getpwnam(self._user)
            for path in (self.dir, self.log):
                os.chown(path, info.pw_uid, info.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "chorus", "-A", "trust", "--no-sync")
        self._pg_ctl("start")
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "chorus", "chorus")
        return self

    def restart(self) -> None:
        """`pg_ctl restart -m fast`: every connection is cut, the server is back in a moment."""
        self._pg_ctl("restart", "-m", "fast")

    def manage(self, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
        """`manage.py <args>` against this cluster; its standard output."""
        out = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": self.url, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if out.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{out.stdout}\n{out.stderr}")
        return out.stdout

    def close(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._pg_ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


# --- engine B -------------------------------------------------------------------------------------
def _engine_b_answers() -> bool:
    import docker

    try:
        client = docker.DockerClient(base_url=DOCKER_B, timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # noqa: BLE001 - any failure: not answering
        return False


def engine_b_process() -> tuple[int, list[str]]:
    """(pid, argv) of the dockerd serving engine B's socket."""
    socket = DOCKER_B.removeprefix("unix://")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [a.decode() for a in argv if a]
        if args and Path(args[0]).name == "dockerd" and any(socket in a for a in args):
            return int(entry.name), args
    raise RuntimeError(
        f"no dockerd serves {socket}: start it with `bash scripts/services.sh start`"
    )


def restart_engine_b(*, on_stopped=None) -> None:
    """Stop engine B's dockerd (SIGTERM: it stops its containers, as a daemon restart does),
    call `on_stopped()`, and start it again with the same command line; wait until it answers."""
    pid, argv = engine_b_process()
    try:
        log_path = os.readlink(f"/proc/{pid}/fd/1")
    except OSError:
        log_path = os.devnull
    if not Path(log_path).is_file():
        log_path = os.devnull
    os.kill(pid, 15)
    _wait(lambda: not Path(f"/proc/{pid}").exists(), 60, "engine B's dockerd did not stop")
    try:
        if on_stopped is not None:
            on_stopped()
    finally:
        start_engine_b(argv, log_path)


def start_engine_b(argv: list[str], log_path: str = os.devnull) -> None:
    if _engine_b_answers():
        return
    with open(log_path, "ab") as log:
        subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
        )  # fmt: skip
    _wait(_engine_b_answers, 60, "engine B did not answer again")
