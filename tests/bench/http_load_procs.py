"""The processes of tests/bench/http_load.py: the Procfile's web, workers and beat started as
`make run` starts them (scripts/supervise.py reads the Procfile), and locust; every one is
stopped at the end, even when the benchmark is interrupted or killed."""

from __future__ import annotations

import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOG_DIR = ROOT / "var" / "bench-http"


def say(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


# --- processes --------------------------------------------------------------------------------
def _supervise():
    spec = importlib.util.spec_from_file_location("supervise", ROOT / "scripts" / "supervise.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _child_setup() -> None:
    os.setpgid(0, 0)
    if _libc is not None:  # die with the benchmark, even on SIGKILL
        _libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG


class Proc:
    def __init__(self, name: str, command: str, env: dict[str, str]) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = LOG_DIR / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            ["/bin/sh", "-c", command], cwd=ROOT, env=env, stdout=self._log,
            stderr=subprocess.STDOUT, preexec_fn=_child_setup,
        )  # fmt: skip
        STARTED.append(self)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def check(self) -> None:
        if self.popen.poll() is not None:
            raise RuntimeError(f"{self.name} exited:\n{self.output()[-3000:]}")

    def stop(self, grace: float = 10) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
            except ProcessLookupError:
                pass
        self._log.close()


STARTED: list[Proc] = []


def stop_all() -> None:
    while STARTED:
        p = STARTED.pop()
        try:
            p.stop()
        except Exception as exc:  # noqa: BLE001 - keep stopping the others
            say(f"could not stop {p.name}: {exc}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_portal(env: dict[str, str], port: int) -> None:
    """The Procfile's processes, as `make run` starts them (scripts/supervise.py)."""
    supervise = _supervise()
    env = {**env, "PORT": str(port), "PATH": f"{Path(sys.executable).parent}:{env['PATH']}"}
    # 1,000 runs due at the same instant: one thread each, as docs/scaling.md sizes it.
    env.setdefault("EXECUTION_CONCURRENCY", "1100")
    procs = {}
    for name, command in supervise.read_procfile(ROOT / "Procfile"):
        command = command.replace("--pidfile=var/beat.pid", f"--pidfile={LOG_DIR / 'beat.pid'}")
        procs[name] = Proc(name, supervise.exec_form(command), env)
    say(f"started {', '.join(procs)} from the Procfile; web on 127.0.0.1:{port}")
    deadline = time.monotonic() + 120
    while True:
        for p in procs.values():
            p.check()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("gunicorn did not answer /healthz within 120 s")
        time.sleep(0.5)
    from portal.celery import app

    while time.monotonic() < deadline:
        for p in procs.values():
            p.check()
        replies = app.control.ping(timeout=1.0) or []
        names = {name.split("@")[0] for r in replies for name in r}
        if {"worker", "executions"} <= names and "beat: Starting" in procs["beat"].output():
            return
    raise TimeoutError("the workers or beat did not start within 120 s")


# --- CPU per role -----------------------------------------------------------------------------
ROLES = ("web", "worker", "executions", "beat", "postgres", "redis", "locust", "other")
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _role(cmdline: str, comm: str) -> str:
    if "gunicorn" in cmdline:
        return "web"
    if "celery" in cmdline:
        if "executions@" in cmdline:
            return "executions"
        if " beat" in cmdline:
            return "beat"
        return "worker"
    if comm == "postgres" or cmdline.startswith("postgres"):
        return "postgres"
    if "redis-server" in cmdline:
        return "redis"
    if "locust" in cmdline:
        return "locust"
    return "other"


def cpu_by_role() -> dict[str, float]:
    """CPU seconds (user + system) every live process on the machine has used so far, with what
    its exited children used (a PostgreSQL backend that ended counts in the postmaster), summed
    per role of the benchmark, and the whole machine's busy time from /proc/stat ("machine"):
    two readings' difference tells who took the CPU in between."""
    out = dict.fromkeys(ROLES, 0.0)
    with open("/proc/stat") as f:
        cpu = [int(v) for v in f.readline().split()[1:]]
    out["machine"] = (sum(cpu) - cpu[3] - cpu[4]) / _TICK  # all but idle and iowait
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        used = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        out[_role(cmdline, comm)] += used / _TICK
    return out
