"""Local builds: copy the tree, make a virtualenv, pip install, record the command."""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shlex
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from deployments.runtimes.base import (
    BuildCancelled,
    BuildError,
    BuildTimedOut,
    BuiltImage,
    CancelFn,
    Limits,
    LogFn,
)
from deployments.runtimes.local import sandbox
from deployments.runtimes.local.core import LocalCore
from deployments.runtimes.local.images import IMAGE_FILE, SKIP_NAMES, locked_dir, tree_digest
from deployments.runtimes.local.processes import pump

PYTHON_RE = re.compile(r"^python(3(\.\d+)?)?$")
SHELL_META = set("|&;<>()$`\\\"'*?[]#~=%\n")


def build_limits(limits: Limits) -> None:
    """In the build step's child: its address space and the processors it may use."""
    memory = limits.memory_mb * 1024 * 1024
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpus = sorted(os.sched_getaffinity(0))[: max(1, int(limits.cpus))]
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, cpus)


class LocalBuild(LocalCore):
    """`build`: an image directory with its own virtualenv."""

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
        from deployments.builds import dockerfiles

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

        digest = tree_digest(
            source_dir, json.dumps([command, env, self.python, sandbox.IMAGE_MOUNT])
        )
        image_dir = self.images_dir / digest.removeprefix("sha256:")[:32]
        log(f"Building {tag} with the local runtime into {image_dir}", "chorus")
        for args in ignored:
            log(f"Note: the local runtime skips “RUN {args[:200]}”", "chorus")
        with locked_dir(self.images_dir / ".locks" / f"{image_dir.name}.lock"):
            if (image_dir / IMAGE_FILE).is_file():
                # Left exactly as it is: a deployment may run this directory.
                log(f"Reusing the identical image built before ({digest[:19]})", "chorus")
                return BuiltImage(ref=str(image_dir), digest=digest, tag=tag)
            if image_dir.exists():
                shutil.rmtree(image_dir)  # an interrupted earlier build
            try:
                self._prepare(
                    source_dir,
                    image_dir,
                    log=log,
                    cancel=cancel,
                    deadline=deadline,
                    limits=limits,
                )
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
        limits: Limits | None,
    ) -> None:
        from deployments.builds import dockerfiles

        app = image_dir / "app"
        shutil.copytree(
            source_dir,
            app,
            symlinks=True,
            ignore=shutil.ignore_patterns(*SKIP_NAMES, "*.pyc"),
        )
        install: list[str] = []
        if dockerfiles.has_requirements(app / "requirements.txt"):
            install = ["-r", "requirements.txt"]
        elif (app / "pyproject.toml").is_file():
            install = dockerfiles.pyproject_dependencies(app / "pyproject.toml")
        venv = f"{sandbox.IMAGE_MOUNT}/venv"
        log(f"Creating a virtualenv with {self.python} (in the bubblewrap sandbox)", "chorus")
        cmd = [self.python, "-m", "venv", *([] if install else ["--without-pip"]), venv]
        self._run_step(
            cmd,
            image_dir=image_dir,
            what="Creating the virtualenv",
            log=log,
            cancel=cancel,
            deadline=deadline,
            limits=limits,
        )
        if not install:
            log("No dependencies declared: nothing to install", "chorus")
            return
        log(f"Installing dependencies: pip install {' '.join(install)}", "chorus")
        self._run_step(
            [
                f"{venv}/bin/python",
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
            image_dir=image_dir,
            what="pip install",
            log=log,
            cancel=cancel,
            deadline=deadline,
            limits=limits,
        )

    def _run_step(
        self,
        cmd: list[str],
        *,
        image_dir: Path,
        what: str,
        log: LogFn,
        cancel: CancelFn | None,
        deadline: float | None,
        limits: Limits | None,
    ) -> None:
        # In the sandbox, with the image directory writable and the host's network (pip's
        # index), but none of the worker's environment, files or processes.
        argv = sandbox.command(
            cmd,
            bwrap=self.bwrap(),
            image_dir=image_dir,
            writable_image=True,
            network=True,
            python=self.python,
            workdir=f"{sandbox.IMAGE_MOUNT}/app",
            tmp_mb=limits.memory_mb if limits else Limits().memory_mb,
            extra_read_only=self.read_only_paths,
        )
        proc = subprocess.Popen(
            argv,
            env=sandbox.build_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=(lambda: build_limits(limits)) if limits else None,  # noqa: PLW1509
        )
        tail: list[str] = []

        def remember(line: str, stream: str = "stdout") -> None:
            tail.append(line)
            del tail[:-5]
            log(line, stream)

        outcome = pump(proc, {"stdout": proc.stdout}, remember, cancel=cancel, deadline=deadline)
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
