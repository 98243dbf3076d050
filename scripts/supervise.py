#!/usr/bin/env python3
"""Run the Procfile's processes and keep them running (what `make run` starts).

    python scripts/supervise.py [Procfile]

Each line `name: command` runs in `/bin/sh` (so `${PORT:-8000}` and `VAR=value command` work;
the shell then becomes the command with `exec`), in a process group of its own, with the
environment this script was given. Every output line is printed as `HH:MM:SS name | line`.

A process that exits while the others run (it crashed, was killed, or ended) is started again
after a back-off: 1 s, doubling up to 30 s, and back to 1 s once it has run for a minute. The
rest of the portal keeps running meanwhile: a crashed executions worker does not take the web
down. Ctrl-C (SIGINT) or SIGTERM stops everything: SIGTERM to each process group, SIGKILL to
what is still there after STOP_TIMEOUT seconds. If this script itself is killed, the kernel
sends its processes SIGTERM (PR_SET_PDEATHSIG), so none is left behind.

Standard library only: it runs before anything of Chorus is imported.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
STABLE_AFTER = 60.0  # a process that ran this long restarts after BACKOFF_FIRST again
STOP_TIMEOUT = 10.0
PR_SET_PDEATHSIG = 1

_print_lock = threading.Lock()
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def say(name: str, line: str) -> None:
    with _print_lock:
        sys.stdout.write(f"{time.strftime('%H:%M:%S')} {name:<10} | {line}\n")
        sys.stdout.flush()


def read_procfile(path: Path) -> list[tuple[str, str]]:
    entries = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line)
        if not m:
            raise SystemExit(f"{path}: cannot read this line: {raw!r}")
        entries.append((m.group(1), m.group(2)))
    if not entries:
        raise SystemExit(f"{path}: no processes")
    return entries


def exec_form(command: str) -> str:
    """`A=1 B=2 prog args` → `A=1 B=2 exec prog args`: the shell becomes the program, so the
    program is our direct child and gets our signals."""
    m = re.match(r"^((?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*)(.*)$", command, re.S)
    return f"{m.group(1)}exec {m.group(2)}"


def _child_setup() -> None:
    os.setpgid(0, 0)
    if _libc is not None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class Process:
    def __init__(self, name: str, command: str, stopping: threading.Event):
        self.name = name
        self.command = command
        self.stopping = stopping
        self.popen: subprocess.Popen | None = None
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name=f"supervise {name}", daemon=True)

    def _pump(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            say(self.name, raw.decode("utf-8", "replace").rstrip("\n"))
        stream.close()

    def _start(self) -> subprocess.Popen | None:
        with self.lock:
            if self.stopping.is_set():
                return None
            # The child's death signal follows the thread that forked it: this thread lives
            # as long as the supervisor does.
            self.popen = subprocess.Popen(  # noqa: PLW1509 - preexec_fn is needed for prctl
                ["/bin/sh", "-c", exec_form(self.command)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Python output through a pipe is block-buffered: lines would arrive late.
                env={"PYTHONUNBUFFERED": "1", **os.environ},
                preexec_fn=_child_setup,
            )
            return self.popen

    def _run(self) -> None:
        delay = BACKOFF_FIRST
        while not self.stopping.is_set():
            started = time.monotonic()
            popen = self._start()
            if popen is None:
                return
            say("supervise", f"{self.name} started (pid {popen.pid})")
            reader = threading.Thread(target=self._pump, args=(popen.stdout,), daemon=True)
            reader.start()
            code = popen.wait()
            # Whatever it left in its group (gunicorn workers, pool children) goes with it.
            self.signal_group(popen, signal.SIGKILL)
            reader.join(timeout=5)
            if self.stopping.is_set():
                say("supervise", f"{self.name} stopped (exit code {code})")
                return
            if time.monotonic() - started >= STABLE_AFTER:
                delay = BACKOFF_FIRST
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            say("supervise", f"{self.name} ended ({how}); starting it again in {delay:g} s")
            if self.stopping.wait(delay):
                return
            delay = min(delay * 2, BACKOFF_MAX)

    @staticmethod
    def signal_group(popen: subprocess.Popen, sig: int) -> None:
        try:
            os.killpg(popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, sig: int) -> None:
        with self.lock:
            if self.popen is not None and self.popen.poll() is None:
                self.signal_group(self.popen, sig)


def main(argv: list[str]) -> int:
    procfile = Path(argv[1] if len(argv) > 1 else "Procfile")
    stopping = threading.Event()
    processes = [Process(name, cmd, stopping) for name, cmd in read_procfile(procfile)]

    def request_stop(signum, frame) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    for p in processes:
        p.thread.start()
    while not stopping.wait(0.5):
        pass
    say("supervise", "stopping every process")
    for p in processes:
        p.stop(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for p in processes:
        p.thread.join(timeout=max(0.0, deadline - time.monotonic()))
    for p in processes:
        if p.thread.is_alive():
            say("supervise", f"{p.name} did not stop within {STOP_TIMEOUT:g} s: killing it")
            p.stop(signal.SIGKILL)
            p.thread.join(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
