"""The record runtime: runs nothing, records that the task started.

Selected like any runtime (`Environment.runtime_kind = "record"` or
`CHORUS_DEFAULT_RUNTIME=record`). It exists so the scheduling path (beat → claim → worker →
start) can be measured and tested without the cost and noise of containers:
tests/bench/fire_lag.py uses it for thousands of simultaneous ticks.

`start` calls `on_start` at once (the moment the task "starts") and logs one line with that
time; the handle's `wait` finishes with exit code 0. Starting costs microseconds
(`quick_start`), so a worker's batch leader starts a whole tick's runs itself (batch.py).
A deployment's config variables can shape the run, which lets tests exercise timeouts,
failures, retries and overlaps in milliseconds:
- RECORD_SLEEP=<seconds>: stay "running" that long (honours timeout and cancel);
- RECORD_EXIT_CODE=<n>: finish with this exit code;
- RECORD_ECHO=<text>: log these lines (e.g. to check secret masking);
- RECORD_STDERR=<text>: log these lines on stderr;
- RECORD_PRINT_ENV=1: log every environment variable as KEY=value;
- RECORD_RESULT=<text>: what the task writes to its result file (CHORUS_RESULT_FILE).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from deployments.runtimes.base import (
    BuiltImage,
    CancelFn,
    Limits,
    LogFn,
    RunHandle,
    RunResult,
    Runtime,
)

POLL_SECONDS = 0.05


def _digest(ref: str) -> str:
    """The record runtime's "image id": a digest of the reference it was given."""
    return "sha256:" + hashlib.sha256(ref.encode()).hexdigest()


class RecordRuntime(Runtime):
    kind = "record"
    quick_start = True

    def __repr__(self) -> str:
        return "RecordRuntime()"

    def available(self) -> bool:
        return True

    def build(
        self,
        *,
        source_dir: Path,
        tag: str,
        log: LogFn,
        build_args: Mapping[str, str] | None = None,
        cancel: CancelFn | None = None,
        timeout: float | None = None,
        limits: Limits | None = None,
    ) -> BuiltImage:
        # Nothing to build: the "image" is its tag, identified by a digest of the tag.
        log(f"record runtime: nothing is built for {tag}", "chorus")
        return BuiltImage(ref=tag, digest=_digest(tag), tag=tag)

    def remove_image(self, ref: str) -> None:
        # Nothing was built, so there is nothing to delete.
        return None

    def run(self, **run_kwargs) -> RunResult:
        return self.start(**run_kwargs).wait()

    def start(
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
    ) -> RunHandle:
        task_id = f"record-{uuid.uuid4().hex[:16]}"
        started = time.time()
        began = time.monotonic()
        if on_start is not None:
            on_start(task_id)
        log(
            f"record runtime: started {datetime.fromtimestamp(started, UTC).isoformat()}",
            "stdout",
        )
        if env.get("RECORD_ECHO"):
            log(str(env["RECORD_ECHO"]), "stdout")
        if env.get("RECORD_STDERR"):
            log(str(env["RECORD_STDERR"]), "stderr")
        if env.get("RECORD_PRINT_ENV") == "1":
            for key in sorted(env):
                log(f"{key}={env[key]}", "stdout")
        sleep = float(env.get("RECORD_SLEEP") or 0)
        exit_code = int(env.get("RECORD_EXIT_CODE") or 0)

        def wait() -> RunResult:
            # No engine to ask what ran: image_id stays empty and the claimed digest stands.
            result = RunResult(exit_code=None, container_id=task_id)
            deadline = began + sleep
            limit = began + timeout
            while time.monotonic() < deadline:
                if time.monotonic() >= limit:
                    result.timed_out = True
                    result.exit_code = 137
                    return result
                if cancel is not None and cancel():
                    result.cancelled = True
                    result.exit_code = 137
                    return result
                time.sleep(min(POLL_SECONDS, max(deadline - time.monotonic(), 0)))
            result.exit_code = exit_code
            if "RECORD_RESULT" in env:
                result.result = str(env["RECORD_RESULT"]).encode()
            return result

        return RunHandle(wait)
