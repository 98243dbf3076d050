"""Local builds: copy the tree, make a virtualenv, pip install, record the command."""

from __future__ import annotations

import json
import os
import re
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
    LogFn,
)
from deployments.runtimes.local.core import LocalCore
from deployments.runtimes.local.images import IMAGE_FILE, SKIP_NAMES, locked_dir, tree_digest
from deployments.runtimes.local.processes import pump

PYTHON_RE = re.compile(r"^python(3(\.\d+)?)?$")
SHELL_META = set("|&;<>()$`\\\"'*?[]#~=%\n")


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

        digest = tree_digest(source_dir, json.dumps([command, env, self.python]))
        image_dir = self.images_dir / digest.removeprefix("sha256:")[:32]
        log(f"Building {tag} with the local runtime into {image_dir}", "chorus")
        for args in ignored:
            log(f"Note: the local runtime skips “RUN {args[:200]}”", "chorus")
        with locked_dir(self.images_dir / ".locks" / f"{image_dir.name}.lock"):
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
