"""Local runs: the task in the bubblewrap sandbox (sandbox.py), in its own session, with
rlimits, its image read-only at /image and a private /tmp as HOME.

A run with `hold_until` starts its sandbox ahead of the tick: the image's own Python runs the
hold wrapper (deployments/runtimes/hold.py, HOLD_PY), which sleeps until then and execs the
task."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

from django.utils import timezone

from deployments.runtimes.base import (
    CONTAINER_RESULT_DIR,
    CONTAINER_RESULT_FILE,
    CancelFn,
    Limits,
    LogFn,
    RunResult,
    RuntimeUnavailable,
    read_capped,
)
from deployments.runtimes.hold import HOLD_PY, began_filter, hold_env
from deployments.runtimes.local import rundir, sandbox
from deployments.runtimes.local.build import PYTHON_RE
from deployments.runtimes.local.core import LocalCore
from deployments.runtimes.local.images import IMAGE_FILE
from deployments.runtimes.local.processes import kill_group, proc_start_time, process_count, pump


class LocalRun(LocalCore):
    """`run`: the task as a subprocess, tracked by its run directory (rundir.py)."""

    can_hold = True  # every local image has its own Python to run the hold wrapper

    def run(
        self,
        *,
        image: str,
        env: Mapping[str, str],
        limits: Limits,
        timeout: float,
        log: LogFn,
        labels: Mapping[str, str] | None = None,
        command: list[str] | None = None,
        cancel: CancelFn | None = None,
        on_start: Callable[[str], None] | None = None,
        run_as_root: bool = False,
        hold_until: float | None = None,
        on_begin: Callable[[float], None] | None = None,
    ) -> RunResult:
        image_dir = Path(image)
        try:
            meta = json.loads((image_dir / IMAGE_FILE).read_text())
        except (OSError, ValueError):
            return RunResult(
                exit_code=None,
                error=f"The local image {image} does not exist on this machine; build it again.",
            )
        digest = str(meta.get("digest") or "")
        if image_dir.name != digest.removeprefix("sha256:")[:32]:
            # Directories are named by their digest and never rewritten (build.py): one whose
            # record says otherwise is not the image the deployment holds.
            return RunResult(
                exit_code=None,
                error=f"The local image {image} does not hold the image its name says "
                f"({digest or 'no digest'}); build it again.",
            )
        try:
            self.check()
            bwrap = self.bwrap()
        except RuntimeUnavailable as exc:
            return RunResult(exit_code=None, error=str(exc))
        venv_bin = f"{sandbox.IMAGE_MOUNT}/venv/bin"
        argv = list(command or meta["command"])
        if argv and PYTHON_RE.match(Path(argv[0]).name):
            argv[0] = f"{venv_bin}/python"
        # The sandbox's environment is exactly this: never the worker's own.
        run_env = {
            "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
            "HOME": "/tmp",
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "VIRTUAL_ENV": f"{sandbox.IMAGE_MOUNT}/venv",
            **{k: v for k, v in (meta.get("env") or {}).items() if k not in ("PATH", "HOME")},
            **{str(k): str(v) for k, v in env.items()},
            "CHORUS_RESULT_FILE": CONTAINER_RESULT_FILE,
        }
        held_for = 0.0
        if hold_until is not None and argv:
            argv = [f"{venv_bin}/python", "-S", "-c", HOLD_PY, *argv]
            run_env.update(hold_env(hold_until))
            log = began_filter(log, on_begin)
            held_for = max(0.0, hold_until - time.time())
        run_id = f"local-{uuid.uuid4().hex[:16]}"
        nproc = limits.pids + process_count(os.getuid())
        cpu_seconds = int((timeout + held_for) * max(limits.cpus, 1.0)) + 1

        def apply_limits() -> None:  # runs in the child, between fork and exec
            memory = limits.memory_mb * 1024 * 1024
            for which, value in (
                (resource.RLIMIT_AS, memory),
                (resource.RLIMIT_CPU, cpu_seconds),
                (resource.RLIMIT_NPROC, nproc),
                (resource.RLIMIT_CORE, 0),
            ):
                with contextlib.suppress(ValueError, OSError):
                    resource.setrlimit(which, (value, value))

        result = RunResult(exit_code=None, container_id=run_id, image_id=digest)
        # The run's directory (rundir.py) holds its output, exit status and result, so they
        # outlive this worker; the result directory is the one place the task may write.
        run_dir = self.runs_dir / run_id
        result_dir = run_dir / rundir.RESULT_DIR
        result_dir.mkdir(parents=True)
        status = open(run_dir / rundir.STATUS_FILE, "wb")  # noqa: SIM115 - closed below
        sandboxed = sandbox.command(
            argv,
            bwrap=bwrap,
            image_dir=image_dir.resolve(),
            writable_image=False,
            network=self.task_network,
            python=self.python,
            workdir=f"{sandbox.IMAGE_MOUNT}/{meta.get('workdir', 'app')}",
            tmp_mb=limits.memory_mb,
            extra_read_only=self.read_only_paths,
            writable=((result_dir, CONTAINER_RESULT_DIR),),
            # In its own session and not tied to this worker: a worker that dies leaves the
            # task to run on, for the reconciler to adopt (or stop) like a container.
            die_with_parent=False,
            status_fd=status.fileno(),
        )
        try:
            with open(run_dir / "stdout", "wb") as out, open(run_dir / "stderr", "wb") as err:
                proc = subprocess.Popen(
                    sandboxed,
                    env=run_env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                    preexec_fn=apply_limits,  # noqa: PLW1509 - rlimits must be set in the child
                    close_fds=True,
                    pass_fds=(status.fileno(),),
                )
        except OSError as exc:
            rundir.remove(run_dir)
            result.error = f"The task could not start: {exc}"
            return result
        finally:
            status.close()
        rundir.info_write(
            run_dir,
            {
                "pid": proc.pid,
                "start": proc_start_time(proc.pid),
                "started_at": timezone.now().isoformat(),
                "labels": dict(labels or {}),
                "image": str(image_dir),
            },
        )
        ended = lambda: proc.poll() is not None  # noqa: E731
        streams = {name: rundir.FollowedFile(run_dir / name, ended) for name in rundir.STREAMS}
        try:
            if on_start is not None:
                on_start(run_id)
            # A held task's timeout counts from the tick, not from its sandbox's start.
            deadline = time.monotonic() + timeout + held_for
            outcome = pump(proc, streams, log, cancel=cancel, deadline=deadline)
            result.timed_out = outcome == "timeout"
            result.cancelled = outcome == "cancelled"
            code = proc.returncode
            # Like Docker: killed by signal N is exit 128+N.
            result.exit_code = 128 - code if code is not None and code < 0 else code
        finally:
            kill_group(proc.pid)
            for stream in streams.values():
                stream.close()
            result.result = read_capped(result_dir / "result.json")
            rundir.remove(run_dir)
        return result
