"""Child processes: streaming their output, deadlines and cancel, killing their group."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path

from deployments.runtimes.base import CancelFn, LogFn
from deployments.runtimes.lines import capped_lines

CANCEL_POLL_SECONDS = 1.0


def proc_start_time(pid: int) -> str | None:
    """The process's start time in clock ticks: tells a live pid from a reused one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ")".
    return stat.rpartition(")")[2].split()[19]


def process_count(uid: int) -> int:
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    count += 1
    return count


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def pump(
    proc: subprocess.Popen,
    pipes: dict,
    log: LogFn,
    *,
    cancel: CancelFn | None,
    deadline: float | None,
) -> str:
    """Stream the pipes' lines to log until the process exits; kill its group on timeout or
    cancel. Returns "exited", "timeout" or "cancelled"."""
    lines: queue.Queue = queue.Queue()

    def read(stream_name: str, pipe) -> None:
        try:
            for line in capped_lines(pipe):
                lines.put((stream_name, line))
        finally:
            lines.put((stream_name, None))

    readers = [
        threading.Thread(target=read, args=(name, pipe), daemon=True)
        for name, pipe in pipes.items()
    ]
    for t in readers:
        t.start()
    open_pipes = len(readers)
    outcome = "exited"
    next_cancel_check = 0.0
    while open_pipes:
        try:
            stream_name, line = lines.get(timeout=0.2)
        except queue.Empty:
            stream_name, line = "", ""
        else:
            if line is None:
                open_pipes -= 1
            else:
                log(line, stream_name)
        now = time.monotonic()
        if outcome != "exited":
            pass
        elif deadline is not None and now > deadline:
            outcome = "timeout"
            kill_group(proc.pid)
        elif cancel is not None and now >= next_cancel_check:
            next_cancel_check = now + CANCEL_POLL_SECONDS
            if cancel():
                outcome = "cancelled"
                kill_group(proc.pid)
        if proc.poll() is not None and open_pipes:
            # The task exited; anything its leftover children hold open is not waited for
            # past a short grace period.
            drain_after_exit(lines, readers, log, proc)
            open_pipes = 0
    proc.wait()
    return outcome


def drain_after_exit(lines: queue.Queue, readers, log: LogFn, proc) -> None:
    for t in readers:
        t.join(timeout=2)
    kill_group(proc.pid)
    for t in readers:
        t.join(timeout=2)
    while True:
        try:
            stream_name, line = lines.get_nowait()
        except queue.Empty:
            return
        if line is not None:
            log(line, stream_name)
