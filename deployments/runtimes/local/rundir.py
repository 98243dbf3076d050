"""A local run's directory (runs/<run id>/ under the images dir): what outlives its worker.

A task's output and exit status go to files here, not to pipes of the worker, so a worker
that dies (SIGKILL, OOM) takes nothing with it: the task runs on in its own session, bwrap
writes its exit code to `status.json` when it ends, and the reconciler reads the task's whole
output and its real start and end times from the directory, as it reads a container's from
the Docker engine.

  run.json     pid and kernel start time of bwrap (a live pid is told from a reused one),
               labels, image directory, wall-clock start
  stdout       the task's standard output, as it printed it
  stderr       its standard error
  status.json  bwrap's JSON status lines: {"child-pid": …} at the start, {"exit-code": N}
               once the task ended (its mtime is when)
  result/      bound at /chorus-result in the sandbox, the only place the task may write

The worker follows `stdout` and `stderr` while the task runs (`FollowedFile`, read like a
pipe) and removes the directory once the run is recorded; the reconciler removes a dead
worker's.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from deployments.runtimes.base import OutputLine
from deployments.runtimes.lines import capped_lines

INFO_FILE = "run.json"
STATUS_FILE = "status.json"
RESULT_DIR = "result"
STREAMS = ("stdout", "stderr")
FOLLOW_POLL_SECONDS = 0.1


def info_write(run_dir: Path, info: dict) -> None:
    tmp = run_dir / f".{INFO_FILE}.tmp"
    tmp.write_text(json.dumps(info))
    tmp.replace(run_dir / INFO_FILE)


def info_read(run_dir: Path) -> dict | None:
    try:
        info = json.loads((run_dir / INFO_FILE).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def exit_status(run_dir: Path) -> tuple[int | None, datetime | None]:
    """The task's exit code as bwrap reported it and when (None, None while it runs or when
    bwrap itself was killed before it could say)."""
    path = run_dir / STATUS_FILE
    try:
        text = path.read_text()
        ended = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    except OSError:
        return None, None
    # One JSON object per write; bwrap separates them with newlines.
    for chunk in text.replace("}{", "}\n{").splitlines():
        with contextlib.suppress(ValueError):
            status = json.loads(chunk)
            if isinstance(status, dict) and isinstance(status.get("exit-code"), int):
                return int(status["exit-code"]), ended
    return None, None


def started_at(info: dict) -> datetime | None:
    try:
        return datetime.fromisoformat(str(info["started_at"])).astimezone(UTC)
    except (KeyError, ValueError):
        return None


def output(run_dir: Path) -> list[OutputLine]:
    """Everything the task printed, cut and capped as a run cuts it: its standard output,
    then its standard error (two files keep no common order between the streams)."""
    lines: list[OutputLine] = []
    for stream in STREAMS:
        try:
            f = open(run_dir / stream, "rb")  # noqa: SIM115 - closed below
        except OSError:
            continue
        with f:
            lines += [OutputLine(stream=stream, text=text) for text in capped_lines(f)]
    return lines


def remove(run_dir: Path) -> None:
    shutil.rmtree(run_dir, ignore_errors=True)


class FollowedFile:
    """A file another process is still writing, read like a pipe: `readline` waits for the
    rest of a line until `finished()` says the writer is gone, then reads to the end."""

    def __init__(self, path: Path, finished: Callable[[], bool]) -> None:
        self._file: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._finished = finished

    def readline(self, limit: int = -1) -> bytes:
        got = b""
        while True:
            got += self._file.readline(limit - len(got) if limit > 0 else -1)
            if got.endswith(b"\n") or (limit > 0 and len(got) >= limit):
                return got
            if self._finished():
                # Whatever it wrote just before it ended, up to the line's end.
                return got + self._file.readline(limit - len(got) if limit > 0 else -1)
            time.sleep(FOLLOW_POLL_SECONDS)

    def close(self) -> None:
        self._file.close()


__all__ = [
    "FollowedFile",
    "exit_status",
    "info_read",
    "info_write",
    "output",
    "remove",
    "started_at",
]
