"""The local runtime: no Docker engine needed. An "image" is a prepared directory.

build: the source tree is copied into CHORUS_LOCAL_IMAGES_DIR/<digest>/app next to its own
virtualenv (venv/), requirements.txt or pyproject dependencies are pip-installed into it, and
what the Dockerfile would start (its ENTRYPOINT/CMD, `python3 …`) is recorded in image.json.
The digest is a sha256 over the tree and the command, so the same source gives the same
image and a rebuild reuses it.

run: the command runs as a subprocess in its own session (so a timeout or cancel kills the
whole process group), with a minimal environment (never the server's), rlimits on memory
(RLIMIT_AS), CPU time and processes (best effort), a fresh HOME/TMPDIR, and cwd in the
image's app/ directory. This is isolation for well-meaning code, not a sandbox for hostile
code: use the Docker runtime for that.

A running task leaves a pidfile (runs/<id>.json, with its labels) for the reconciler's
find/stop; it is removed once the exit code and the output are collected.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import queue
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from .base import (
    BuildCancelled,
    BuildError,
    BuildTimedOut,
    BuiltImage,
    CancelFn,
    ImageInUse,
    ImageRemoveError,
    Limits,
    LogFn,
    RunningTask,
    RunResult,
    Runtime,
    RuntimeUnavailable,
)

IMAGE_FILE = "image.json"
SKIP_NAMES = {".git", "__pycache__", ".venv", "venv", ".mypy_cache", ".pytest_cache"}
PYTHON_RE = re.compile(r"^python(3(\.\d+)?)?$")
SHELL_META = set("|&;<>()$`\\\"'*?[]#~=%\n")
# An image directory's name: the first 32 hex digits of its digest (see `build`).
IMAGE_DIR_RE = re.compile(r"^[0-9a-f]{32}$")
CANCEL_POLL_SECONDS = 1.0


def _default_images_dir() -> Path:
    from django.conf import settings

    return Path(settings.CHORUS_LOCAL_IMAGES_DIR)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tree_files(root: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_NAMES)
        for name in sorted(filenames):
            if not name.endswith(".pyc"):
                files.append(Path(dirpath) / name)
    return files


def tree_digest(root: Path, extra: str = "") -> str:
    h = hashlib.sha256()
    for path in _tree_files(root):
        rel = path.relative_to(root).as_posix().encode()
        h.update(len(rel).to_bytes(4, "big") + rel)
        if path.is_symlink():
            h.update(b"L" + os.readlink(path).encode())
        else:
            h.update(b"X" if os.access(path, os.X_OK) else b"F")
            data = path.read_bytes()
            h.update(len(data).to_bytes(8, "big") + data)
    h.update(extra.encode())
    return "sha256:" + h.hexdigest()


def _proc_start_time(pid: int) -> str | None:
    """The process's start time in clock ticks: tells a live pid from a reused one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ")".
    return stat.rpartition(")")[2].split()[19]


def _process_count(uid: int) -> int:
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    count += 1
    return count


class LocalRuntime(Runtime):
    kind = "local"

    def __init__(self, *, images_dir: Path | None = None, python: str | None = None) -> None:
        self.images_dir = Path(images_dir) if images_dir else _default_images_dir()
        # venvs are made from the interpreter Chorus runs on (its base, not Chorus's venv).
        self.python = python or getattr(sys, "_base_executable", None) or sys.executable

    def __repr__(self) -> str:
        return f"LocalRuntime({self.images_dir})"

    @property
    def runs_dir(self) -> Path:
        return self.images_dir / "runs"

    def available(self) -> bool:
        return bool(self.python) and os.access(self.python, os.X_OK)

    # --- build ------------------------------------------------------------------------------
    def build(
        self,
        *,
        source_dir: Path,
        tag: str,
        log: LogFn,
        build_args: Mapping[str, str] | None = None,
        cancel: CancelFn | None = None,
        timeout: float | None = None,
    ) -> BuiltImage:
        from deployments import dockerfiles

        source_dir = Path(source_dir)
        dockerfile = source_dir / "Dockerfile"
        if not dockerfile.is_file():
            raise BuildError("There is no Dockerfile in the source directory.")
        text = dockerfile.read_text(errors="replace")
        command = dockerfiles.start_command(text)
        if not command:
            raise BuildError("The Dockerfile has no CMD or ENTRYPOINT: nothing to run.")
        command = self._python_command(command)
        env = dockerfiles.env_vars(text)
        ignored = [
            args
            for word, args in dockerfiles.instructions(text)
            if word == "RUN" and "pip install" not in args
        ]
        deadline = time.monotonic() + timeout if timeout else None

        digest = tree_digest(source_dir, json.dumps([command, env, self.python]))
        image_dir = self.images_dir / digest.removeprefix("sha256:")[:32]
        log(f"Building {tag} with the local runtime into {image_dir}", "chorus")
        for args in ignored:
            log(f"Note: the local runtime skips “RUN {args[:200]}”", "chorus")
        with _locked(self.images_dir / ".locks" / f"{image_dir.name}.lock"):
            if (image_dir / IMAGE_FILE).is_file():
                log(f"Reusing the identical image built before ({digest[:19]})", "chorus")
                self._write_meta(image_dir, digest=digest, tag=tag, command=command, env=env)
                return BuiltImage(ref=str(image_dir), digest=digest)
            if image_dir.exists():
                shutil.rmtree(image_dir)  # an interrupted earlier build
            try:
                self._prepare(source_dir, image_dir, log=log, cancel=cancel, deadline=deadline)
                self._write_meta(image_dir, digest=digest, tag=tag, command=command, env=env)
            except BaseException:
                shutil.rmtree(image_dir, ignore_errors=True)
                raise
        log(f"Image ready: {' '.join(shlex.quote(c) for c in command)}", "chorus")
        return BuiltImage(ref=str(image_dir), digest=digest)

    @staticmethod
    def _python_command(command: list[str]) -> list[str]:
        # `CMD python3 main.py` (shell form) needs no shell: run it directly.
        if command[:2] == ["/bin/sh", "-c"] and len(command) == 3:
            if not (set(command[2]) & SHELL_META):
                command = shlex.split(command[2])
        exe = Path(command[0]).name if command else ""
        if not PYTHON_RE.match(exe):
            raise BuildError(
                "The local runtime runs Python tasks only (a command starting with python3); "
                f"this Dockerfile starts “{' '.join(command)}”. Use the Docker runtime for it."
            )
        return ["python", *command[1:]]

    def _prepare(
        self,
        source_dir: Path,
        image_dir: Path,
        *,
        log: LogFn,
        cancel: CancelFn | None,
        deadline: float | None,
    ) -> None:
        from deployments import dockerfiles

        app = image_dir / "app"
        shutil.copytree(
            source_dir,
            app,
            symlinks=True,
            ignore=shutil.ignore_patterns(*SKIP_NAMES, "*.pyc"),
        )
        install: list[str] = []
        if dockerfiles._has_requirements(app / "requirements.txt"):
            install = ["-r", "requirements.txt"]
        elif (app / "pyproject.toml").is_file():
            install = dockerfiles._pyproject_dependencies(app / "pyproject.toml")
        venv = image_dir / "venv"
        log(f"Creating a virtualenv with {self.python}", "chorus")
        cmd = [self.python, "-m", "venv", *([] if install else ["--without-pip"]), str(venv)]
        self._run_step(
            cmd, cwd=app, what="Creating the virtualenv", log=log, cancel=cancel, deadline=deadline
        )
        if not install:
            log("No dependencies declared: nothing to install", "chorus")
            return
        log(f"Installing dependencies: pip install {' '.join(install)}", "chorus")
        self._run_step(
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--no-input",
                "--disable-pip-version-check",
                "--progress-bar",
                "off",
                "--retries",
                "1",
                "--timeout",
                "20",
                *install,
            ],
            cwd=app,
            what="pip install",
            log=log,
            cancel=cancel,
            deadline=deadline,
        )

    def _run_step(
        self,
        cmd: list[str],
        *,
        cwd: Path,
        what: str,
        log: LogFn,
        cancel: CancelFn | None,
        deadline: float | None,
    ) -> None:
        env = {
            k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV" and not k.startswith("PYTHON")
        }
        env["PYTHONUNBUFFERED"] = "1"
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        tail: list[str] = []

        def remember(line: str, stream: str = "stdout") -> None:
            tail.append(line)
            del tail[:-5]
            log(line, stream)

        outcome = _pump(proc, {"stdout": proc.stdout}, remember, cancel=cancel, deadline=deadline)
        if outcome == "timeout":
            raise BuildTimedOut("The build ran past its time limit.")
        if outcome == "cancelled":
            raise BuildCancelled("The build was cancelled.")
        if proc.returncode != 0:
            errors = [t for t in tail if "error" in t.lower()] or tail
            detail = errors[-1].strip() if errors else ""
            raise BuildError(
                f"{what} failed (exit {proc.returncode})" + (f": {detail}" if detail else "")
            )

    def _write_meta(self, image_dir: Path, *, digest: str, tag: str, command, env) -> None:
        meta = {"digest": digest, "tag": tag, "command": command, "env": env, "workdir": "app"}
        tmp = image_dir / f".{IMAGE_FILE}.tmp"
        tmp.write_text(json.dumps(meta, indent=2))
        tmp.replace(image_dir / IMAGE_FILE)

    # --- run --------------------------------------------------------------------------------
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
    ) -> RunResult:
        image_dir = Path(image)
        try:
            meta = json.loads((image_dir / IMAGE_FILE).read_text())
        except (OSError, ValueError):
            return RunResult(
                exit_code=None,
                error=f"The local image {image} does not exist on this machine; build it again.",
            )
        venv_bin = image_dir / "venv" / "bin"
        argv = list(command or meta["command"])
        if argv and PYTHON_RE.match(Path(argv[0]).name):
            argv[0] = str(venv_bin / "python")
        home = Path(tempfile.mkdtemp(prefix="chorus-run-"))
        run_env = {
            "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "TMPDIR": str(home),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "VIRTUAL_ENV": str(image_dir / "venv"),
            **{k: v for k, v in (meta.get("env") or {}).items() if k not in ("PATH", "HOME")},
            **{str(k): str(v) for k, v in env.items()},
        }
        run_id = f"local-{uuid.uuid4().hex[:16]}"
        nproc = limits.pids + _process_count(os.getuid())
        cpu_seconds = int(timeout * max(limits.cpus, 1.0)) + 1

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

        result = RunResult(exit_code=None, container_id=run_id)
        try:
            proc = subprocess.Popen(
                argv,
                cwd=image_dir / meta.get("workdir", "app"),
                env=run_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                preexec_fn=apply_limits,  # noqa: PLW1509 - rlimits must be set in the child
                close_fds=True,
            )
        except OSError as exc:
            shutil.rmtree(home, ignore_errors=True)
            result.error = f"The task could not start: {exc}"
            return result
        pidfile = self.runs_dir / f"{run_id}.json"
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        pidfile.write_text(
            json.dumps(
                {
                    "pid": proc.pid,
                    "start": _proc_start_time(proc.pid),
                    "labels": dict(labels or {}),
                    "image": str(image_dir),
                    "home": str(home),
                }
            )
        )
        try:
            if on_start is not None:
                on_start(run_id)
            deadline = time.monotonic() + timeout
            outcome = _pump(
                proc,
                {"stdout": proc.stdout, "stderr": proc.stderr},
                log,
                cancel=cancel,
                deadline=deadline,
            )
            result.timed_out = outcome == "timeout"
            result.cancelled = outcome == "cancelled"
            code = proc.returncode
            # Like Docker: killed by signal N is exit 128+N.
            result.exit_code = 128 - code if code is not None and code < 0 else code
        finally:
            _kill_group(proc.pid)
            pidfile.unlink(missing_ok=True)
            shutil.rmtree(home, ignore_errors=True)
        return result

    # --- reconciler -------------------------------------------------------------------------
    def _runs(self) -> Iterator[tuple[Path, dict]]:
        if not self.runs_dir.is_dir():
            return
        for path in sorted(self.runs_dir.glob("local-*.json")):
            try:
                yield path, json.loads(path.read_text())
            except (OSError, ValueError):
                continue

    @staticmethod
    def _alive(info: dict) -> bool:
        pid = info.get("pid")
        return bool(pid) and _proc_start_time(int(pid)) == info.get("start")

    def find(self, labels: Mapping[str, str]) -> list[RunningTask]:
        found = []
        for path, info in self._runs():
            have = info.get("labels") or {}
            if all(have.get(k) == str(v) for k, v in labels.items()):
                found.append(
                    RunningTask(
                        container_id=path.stem, labels=dict(have), running=self._alive(info)
                    )
                )
        return found

    def stop(self, container_id: str) -> None:
        path = self.runs_dir / f"{container_id}.json"
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        if self._alive(info):
            _kill_group(int(info["pid"]))
        self.remove(container_id)

    def remove(self, container_id: str) -> None:
        path = self.runs_dir / f"{container_id}.json"
        with contextlib.suppress(OSError, ValueError):
            home = json.loads(path.read_text()).get("home")
            if home and Path(home).name.startswith("chorus-run-"):
                shutil.rmtree(home, ignore_errors=True)
        path.unlink(missing_ok=True)

    # --- image clean-up ---------------------------------------------------------------------
    def remove_image(self, ref: str) -> None:
        """Delete the image directory `ref`, only if it is an image directory directly inside
        this runtime's images dir (never a symlink, never runs/ or anything else), and no live
        run uses it. Holds the build's lock, so a build reusing the image waits for us."""
        path = Path(ref)
        if (
            not path.is_absolute()
            or not IMAGE_DIR_RE.match(path.name)
            or path.parent.resolve() != self.images_dir.resolve()
        ):
            raise ImageRemoveError(f"Refused to remove {ref}: not a local image of {self}.")
        with _locked(self.images_dir / ".locks" / f"{path.name}.lock"):
            if path.is_symlink():
                raise ImageRemoveError(f"Refused to remove {ref}: it is a symbolic link.")
            if not path.exists():
                return  # already gone
            for _pidfile, info in self._runs():
                if info.get("image") == str(path) and self._alive(info):
                    raise ImageInUse(f"Kept {ref}: a task (pid {info.get('pid')}) runs from it.")
            # Renamed first (atomic), so a half-deleted tree never passes for an image.
            doomed = self.images_dir / f".removing-{path.name}-{uuid.uuid4().hex[:8]}"
            try:
                path.rename(doomed)
            except OSError as exc:
                raise ImageRemoveError(f"Could not remove {ref}: {exc}") from exc
        shutil.rmtree(doomed, ignore_errors=True)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _pump(
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
            for raw in iter(pipe.readline, b""):
                lines.put((stream_name, raw.decode("utf-8", errors="replace").rstrip("\r\n")))
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
            _kill_group(proc.pid)
        elif cancel is not None and now >= next_cancel_check:
            next_cancel_check = now + CANCEL_POLL_SECONDS
            if cancel():
                outcome = "cancelled"
                _kill_group(proc.pid)
        if proc.poll() is not None and open_pipes:
            # The task exited; anything its leftover children hold open is not waited for
            # past a short grace period.
            _drain_after_exit(lines, readers, log, proc)
            open_pipes = 0
    proc.wait()
    return outcome


def _drain_after_exit(lines: queue.Queue, readers, log: LogFn, proc) -> None:
    for t in readers:
        t.join(timeout=2)
    _kill_group(proc.pid)
    for t in readers:
        t.join(timeout=2)
    while True:
        try:
            stream_name, line = lines.get_nowait()
        except queue.Empty:
            return
        if line is not None:
            log(line, stream_name)


__all__ = ["LocalRuntime", "RuntimeUnavailable", "tree_digest"]
