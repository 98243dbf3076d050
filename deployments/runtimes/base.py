"""The runtime interface: how an image is built and how it runs.

A runtime is chosen per environment (`Environment.runtime_kind`): `docker` talks to a Docker
engine; `local` is the embedded fallback that needs no engine (an "image" is a prepared
directory with its own virtualenv, built and run in a bubblewrap sandbox). Both honour the same
contract so builds, executions, the reconciler and tests do not care which one runs.
"""

from __future__ import annotations

import os
import stat
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

# log(line, stream) where stream is "stdout", "stderr" or "chorus" (Chorus's own messages).
LogFn = Callable[..., None]
# Polled during long operations; True means stop as soon as possible.
CancelFn = Callable[[], bool]


class RuntimeUnavailable(Exception):
    """The runtime cannot be reached (e.g. the Docker engine is down). Message is user-facing."""


class ImageRemoveError(Exception):
    """`remove_image` could not delete the image; it stays. Message is user-facing."""


class ImageInUse(ImageRemoveError):
    """A task (running or stopped container) still uses the image: it is kept, never forced."""


class ImagePullError(Exception):
    """An image could not be pushed to or pulled from the registry. Message is user-facing."""


class BuildError(Exception):
    """The build failed for a reason the user can act on. Message is user-facing."""


class BuildCancelled(BuildError):
    """`cancel()` said stop; the build was aborted."""


class BuildTimedOut(BuildError):
    """The build ran past its `timeout` and was aborted."""


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 512
    cpus: float = 1.0
    pids: int = 256


@dataclass(frozen=True)
class BuiltImage:
    # What `run` takes, immutable: an image id "sha256:…" (docker), "<repo>@sha256:…" once
    # pushed to a registry, or a directory named by its digest (local). Never a tag: a tag
    # moves when the same commit is built again.
    ref: str
    digest: str  # content identity: "sha256:…"; the same digest runs in every environment
    tag: str = ""  # the human name it was built under (logs only)


# The result file a task may write (CHORUS_RESULT_FILE, deployments/executions/results.py):
# at most this many bytes are kept; in a container it lives in a directory Chorus creates.
RESULT_MAX_BYTES = 16 * 1024
CONTAINER_RESULT_DIR = "/chorus-result"
CONTAINER_RESULT_FILE = f"{CONTAINER_RESULT_DIR}/result.json"


def read_capped(path: Path) -> bytes | None:
    """A task's result file (one byte over the cap at most), never through a symlink; None
    when there is no regular file there."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        return f.read(RESULT_MAX_BYTES + 1)


@dataclass
class RunResult:
    exit_code: int | None
    timed_out: bool = False
    cancelled: bool = False
    # Set when the runtime itself failed (engine down, image missing): user-facing text.
    error: str = ""
    container_id: str = ""
    # The image the task really ran, read back from the engine (the container's image id,
    # the local image's digest): what the execution records, and what the production gate
    # compares.
    image_id: str = ""
    # The bytes of the file named by CHORUS_RESULT_FILE (at most one more than
    # executions/results.MAX_RESULT_BYTES), None when the task wrote none.
    result: bytes | None = None


class RunHandle:
    """A run begun by `Runtime.start`; `wait()` follows it to its end and returns the result."""

    def __init__(self, wait: Callable[[], RunResult]) -> None:
        self._wait = wait

    def wait(self) -> RunResult:
        return self._wait()


@dataclass
class RunningTask:
    """A task found by its labels, for the reconciler."""

    container_id: str
    labels: dict[str, str] = field(default_factory=dict)
    running: bool = True
    exit_code: int | None = None
    # When the task really started and ended, as the engine saw it (None: not known).
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class OutputLine:
    """One line a task printed, as the engine kept it (for the reconciler to adopt)."""

    stream: str  # "stdout" or "stderr"
    text: str
    ts: datetime | None = None


class Runtime(ABC):
    kind: str = ""
    # True when `start` returns at once (no engine round trip): a batch leader may then start
    # thousands of runs in a row at the tick, instead of waking a thread for each first.
    quick_start: bool = False
    # True when `run` takes `hold_until` and `on_begin`: the task is started ahead of its tick
    # and held until it (deployments/runtimes/hold.py); `on_begin(unix time)` is called when it
    # really began.
    can_hold: bool = False

    @abstractmethod
    def available(self) -> bool:
        """True when this runtime can build and run right now."""

    @abstractmethod
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
        """Build `source_dir` (which holds a Dockerfile) into an image, its steps held to
        `limits` (memory, CPUs). Raises BuildError, RuntimeUnavailable."""

    @abstractmethod
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
    ) -> RunResult:
        """Run the image to completion (or timeout / cancel), streaming its output to `log`.
        `on_start(container_id)` is called as soon as the task is running. The task runs as
        an unprivileged user unless `run_as_root` (an owner's choice for the component)."""

    def start(self, **run_kwargs) -> RunHandle:
        """Begin a run (the arguments of `run`); the handle's `wait()` finishes it.

        The default begins nothing here: the whole run, `on_start` included, happens in
        `wait()`. A runtime with `quick_start` really starts the task in `start`."""
        return RunHandle(lambda: self.run(**run_kwargs))

    def ensure_image(self, ref: str, *, auth: dict | None = None) -> bool:
        """Make sure this runtime holds `ref`, pulling it from the registry if needed; True
        when it pulled. Runtimes without a registry (local, record) have nothing to pull."""
        return False

    def find(self, labels: Mapping[str, str]) -> list[RunningTask]:
        """Tasks (running or exited) carrying all these labels."""
        return []

    def output(self, container_id: str) -> list[OutputLine]:
        """Everything the task printed that the runtime still keeps, oldest first, each
        stream cut into lines as a run's log cuts it ([] when it keeps nothing)."""
        return []

    def stop(self, container_id: str) -> None:
        """Kill and remove a task started by this runtime (best effort)."""
        return None

    def remove(self, container_id: str) -> None:
        """Remove an exited task's leftovers (best effort)."""
        return None

    @abstractmethod
    def remove_image(self, ref: str) -> None:
        """Delete the image `ref` (a `BuiltImage.ref`) built by this runtime.

        An image that is already gone counts as removed (clean-up may be retried). Raises
        ImageInUse when a task still uses it (never forced), ImageRemoveError for any other
        refusal, RuntimeUnavailable when the runtime cannot be reached."""
