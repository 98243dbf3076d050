"""The local runtime builds and runs tasks with no Docker engine at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deployments.models import Build, Environment
from deployments.runtimes import get_runtime
from deployments.runtimes.base import Limits
from deployments.runtimes.local.runtime import LocalRuntime
from tests.support.builds import sample_files

from .conftest import log_lines

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

SESSIONS = b'[{"id": "s-9", "user": "carol", "last_seen": "2024-05-01T09:15:00Z"}]\n'


@pytest.fixture
def no_docker(build_settings):
    """Docker "configured" but unreachable; Development runs on the local runtime."""
    build_settings.CHORUS_DOCKER_HOST = "unix:///nonexistent/docker.sock"
    dev = Environment.objects.get(slug="dev")
    dev.runtime_kind = "local"
    dev.save()
    return dev


class Collect(list):
    def __call__(self, line, stream="stdout"):
        self.append((stream, line))

    def text(self, stream="stdout") -> str:
        return "\n".join(line for s, line in self if s == stream)


def test_local_runtime_builds_and_runs_the_python_sample(
    no_docker, build_settings, repo, make_component, run_build
):
    repo.commit(
        {
            **sample_files("session-timeout-logger", prefix="jobs/sessions/"),
            "jobs/sessions/sessions.json": SESSIONS,
        }
    )
    component = make_component(repo, "sessions", preset="python", path="jobs/sessions")

    build = run_build(component)

    lines = log_lines(build)
    assert build.status == Build.Status.SUCCEEDED, lines[-5:]
    assert build.runtime_kind == "local"
    assert build.image_digest.startswith("sha256:")
    image = Path(build.image_ref)
    assert image.parent == Path(build_settings.CHORUS_LOCAL_IMAGES_DIR)
    assert (image / "venv" / "bin" / "python").exists()
    assert lines[-1] == f"Build succeeded: {build.image_ref} ({build.image_digest})"

    runtime = get_runtime(no_docker)
    assert isinstance(runtime, LocalRuntime)
    out = Collect()
    started = []
    result = runtime.run(
        image=build.image_ref,
        env={
            "SESSIONS_URL": "sessions.json",
            "CHORUS_SCHEDULED_AT": "2024-05-01T10:00:00+00:00",
            "CHORUS_EXECUTION_ID": "42",
        },
        limits=Limits(memory_mb=512, pids=64),
        timeout=60,
        log=out,
        labels={"org.chorus.execution": "42"},
        on_start=lambda cid: started.append((cid, runtime.find({"org.chorus.execution": "42"}))),
    )
    assert result.exit_code == 0, out
    assert "Starting session-timeout-logger (execution 42" in out.text()
    assert "Session s-9 of carol timed out (idle 45 min)" in out.text()
    # While it ran, the reconciler could find it by its labels; afterwards it is gone.
    ((cid, found),) = started
    assert [t.container_id for t in found] == [cid] and found[0].running
    assert runtime.find({"org.chorus.execution": "42"}) == []


def test_local_runtime_runs_a_python_dockerfile_task(no_docker, repo, make_component, run_build):
    repo.commit(sample_files("health-check"))
    build = run_build(make_component(repo, "health", preset="dockerfile"))
    assert build.status == Build.Status.SUCCEEDED, log_lines(build)[-5:]

    out = Collect()
    result = get_runtime(no_docker).run(
        image=build.image_ref, env={}, limits=Limits(), timeout=30, log=out
    )
    # No configuration: the sample checks the demo endpoint it serves itself, and says so.
    assert result.exit_code == 0, out.lines
    assert "HEALTHCHECK_URL is not set: checking a demo endpoint" in out.text()
    assert "answered 200" in out.text()


def test_local_runtime_timeout_kills_the_task(no_docker, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "Dockerfile").write_text('FROM x\nCMD ["python3", "-u", "loop.py"]\n')
    (source / "loop.py").write_text(
        "import subprocess, time\n"
        "subprocess.Popen(['sleep', '300'])\n"  # a child in the same group dies too
        "print('working', flush=True)\n"
        "time.sleep(300)\n"
    )
    runtime = LocalRuntime()
    image = runtime.build(source_dir=source, tag="t", log=lambda *a: None)
    out = Collect()
    result = runtime.run(image=image.ref, env={}, limits=Limits(), timeout=2, log=out)
    assert result.timed_out and result.exit_code == 137
    assert out.text() == "working"


def test_failing_pip_install_fails_the_build(no_docker, repo, make_component, run_build):
    repo.commit(
        {
            "main.py": "print('never')\n",
            "requirements.txt": "chorus-surely-not-a-real-package-4f1c==0.0.1\n",
        }
    )
    build = run_build(make_component(repo, "deps", preset="python", entry="python3 main.py"))
    lines = log_lines(build)
    assert build.status == Build.Status.FAILED
    assert build.error.startswith("pip install failed (exit 1)")
    assert any("chorus-surely-not-a-real-package-4f1c" in line for line in lines[:-1])
    assert lines[-1] == f"Build failed: {build.error}"


def test_the_local_runtime_hands_back_the_result_file(no_docker, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "Dockerfile").write_text('FROM x\nCMD ["python3", "-u", "task.py"]\n')
    (source / "task.py").write_text(
        "import json, os\n"
        "with open(os.environ['CHORUS_RESULT_FILE'], 'w') as f:\n"
        "    json.dump({'status': 'partial', 'summary': 'half', 'stats': {'n': 1}}, f)\n"
    )
    runtime = LocalRuntime()
    image = runtime.build(source_dir=source, tag="t", log=lambda *a: None)
    result = runtime.run(image=image.ref, env={}, limits=Limits(), timeout=30, log=lambda *a: None)
    assert result.exit_code == 0
    assert json.loads(result.result) == {"status": "partial", "summary": "half", "stats": {"n": 1}}


def test_the_local_runtime_does_not_follow_a_symlinked_result(no_docker, tmp_path):
    secret = tmp_path / "outside.txt"
    secret.write_text('{"status": "partial", "summary": "read from outside"}')
    source = tmp_path / "src"
    source.mkdir()
    (source / "Dockerfile").write_text('FROM x\nCMD ["python3", "-u", "task.py"]\n')
    (source / "task.py").write_text(
        f"import os\nos.symlink({str(secret)!r}, os.environ['CHORUS_RESULT_FILE'])\n"
    )
    runtime = LocalRuntime()
    image = runtime.build(source_dir=source, tag="t", log=lambda *a: None)
    result = runtime.run(image=image.ref, env={}, limits=Limits(), timeout=30, log=lambda *a: None)
    assert result.exit_code == 0 and result.result is None


def test_a_task_outlives_its_killed_worker_and_leaves_what_it_did(no_docker, tmp_path):
    """The worker process dies (SIGKILL) mid-run: the task runs on to its end, and find /
    output / stop tell the reconciler its exit code, its own start and end, and every line."""
    import multiprocessing
    import os
    import signal
    import time

    source = tmp_path / "src"
    source.mkdir()
    (source / "Dockerfile").write_text('FROM x\nCMD ["python3", "-u", "task.py"]\n')
    (source / "task.py").write_text(
        "import sys, time\n"
        "for i in range(1, 5):\n"
        "    print(f'line-{i}', flush=True)\n"
        "    time.sleep(0.5)\n"
        "print('the-end', file=sys.stderr, flush=True)\n"
        "sys.exit(3)\n"
    )
    runtime = LocalRuntime()
    image = runtime.build(source_dir=source, tag="t", log=lambda *a: None)
    labels = {"chorus.execution": "77", "chorus.managed": "true"}
    worker = multiprocessing.get_context("fork").Process(
        target=runtime.run,
        kwargs={"image": image.ref, "env": {}, "limits": Limits(), "timeout": 60,
                "log": lambda *a: None, "labels": labels},
    )  # fmt: skip
    worker.start()

    def found(running: bool):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            tasks = runtime.find(labels)
            if tasks and tasks[0].running == running:
                return tasks
            time.sleep(0.1)
        raise AssertionError(f"no task with running={running}")

    found(running=True)
    os.kill(worker.pid, signal.SIGKILL)
    worker.join()
    [task] = found(running=False)

    assert task.exit_code == 3
    assert 2 <= (task.finished_at - task.started_at).total_seconds() < 10
    lines = [(line.stream, line.text) for line in runtime.output(task.container_id)]
    assert lines == [("stdout", f"line-{i}") for i in range(1, 5)] + [("stderr", "the-end")]
    runtime.stop(task.container_id)
    assert runtime.find(labels) == []
    assert not (runtime.runs_dir / task.container_id).exists()
