"""`make run` keeps the portal up when one of its processes dies: the executions worker is
killed (SIGKILL), the web keeps answering, the supervisor starts the worker again, and Ctrl-C
still stops every process (scripts/supervise.py)."""

from __future__ import annotations

import os
import re
import signal
import time

import pytest
import requests

from tests.support.makerun import WEB_READY, MakeRun, free_port, fresh_clone

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

STARTED = r"supervise\s+\| (\w+) started \(pid (\d+)\)"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too: it only waits for its parent to read its exit code.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def _started(run: MakeRun) -> dict[str, list[int]]:
    pids: dict[str, list[int]] = {}
    for name, pid in re.findall(STARTED, run.text()):
        pids.setdefault(name, []).append(int(pid))
    return pids


def test_a_killed_worker_is_restarted_while_the_web_keeps_answering(tmp_path):
    clone = fresh_clone(tmp_path / "chorus")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    run = MakeRun(clone, port, tmp_path / "run.log")
    try:
        run.wait_for(WEB_READY, 120)
        run.wait_for(r"executions@\S+ ready\.", 90)
        first = _started(run)
        assert set(first) == {"web", "worker", "executions", "beat"}, first
        (worker,) = first["executions"]

        os.kill(worker, signal.SIGKILL)
        # The web answers all through the worker's absence and return.
        answers = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            answers.append(requests.get(f"{base}/healthz", timeout=10).status_code)
            if run.text().count("executions@") >= 2 and re.search(
                r"executions@\S+ ready\.(.|\n)*executions@\S+ ready\.", run.text()
            ):
                break
            time.sleep(0.5)
        text = run.text()
        assert "executions ended (signal 9); starting it again in 1 s" in text
        again = _started(run)
        assert len(again["executions"]) == 2 and again["executions"][1] != worker
        assert _alive(again["executions"][1])
        assert re.search(r"executions@\S+ ready\.(.|\n)*executions@\S+ ready\.", text), text[-3000:]
        assert answers and set(answers) == {200}, answers
        # Only the dead process was started again.
        assert {k: len(v) for k, v in again.items()} == {
            "web": 1, "worker": 1, "executions": 2, "beat": 1,
        }  # fmt: skip
        everyone = [pid for pids in again.values() for pid in pids]

        # Ctrl-C: SIGINT to the foreground process group (make and the supervisor).
        os.killpg(run.proc.pid, signal.SIGINT)
        run.proc.wait(timeout=60)
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in everyone) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [pid for pid in everyone if _alive(pid)] == []
        assert "stopping every process" in run.text()
    finally:
        run.stop()
