"""The local runtime's bubblewrap sandbox, attacked through a real build and a real run.

A developer's repository is hostile here: its requirements file tries to make pip print the
worker's files and environment into the build log, and its task tries to read Chorus's
VAR_DIR, another project's image, the worker's /proc environ, to write outside its image and
to reach a server on the host. Each attempt is refused and every target is unchanged.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from deployments.models import Build, Environment
from deployments.runtimes import get_runtime
from deployments.runtimes.base import Limits
from deployments.runtimes.local.runtime import LocalRuntime
from tests.support.tcp import counting_server

from .conftest import log_lines

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

WORKER_SECRET = "worker-secret-" + uuid.uuid4().hex


@pytest.fixture
def local_dev(build_settings, monkeypatch):
    """Development on the local runtime; the worker holds a secret in its environment."""
    monkeypatch.setenv("SECRET_KEY", WORKER_SECRET)
    monkeypatch.setenv("CHORUS_ENCRYPTION_KEY", WORKER_SECRET)
    dev = Environment.objects.get(slug="dev")
    dev.runtime_kind = "local"
    dev.save()
    return dev


@pytest.fixture
def canary(settings):
    """A file in VAR_DIR (where the database and the encryption key live), removed after."""
    path = Path(settings.VAR_DIR) / f"sandbox-canary-{uuid.uuid4().hex[:8]}"
    path.write_text("canary\n")
    yield path
    path.unlink(missing_ok=True)


class Collect(list):
    def __call__(self, line, stream="stdout"):
        self.append((stream, line))

    def text(self) -> str:
        return "\n".join(line for _s, line in self)


@pytest.mark.parametrize(
    "requirement, refused",
    [
        ("leak-${SECRET_KEY}", "Invalid requirement: 'leak-${SECRET_KEY}'"),
        ("-r {canary}", "Could not open requirements file: [Errno 2] No such file or directory"),
    ],
    ids=["worker-environment", "var-dir-file"],
)
def test_a_build_cannot_read_the_workers_files_or_environment(
    local_dev, canary, repo, make_component, run_build, requirement, refused
):
    # pip expands ${VAR} in a requirements file, reads the files it names and prints a line it
    # cannot parse: run with the worker's environment and files, this puts the worker's
    # SECRET_KEY or VAR_DIR's files into the build log.
    repo.commit(
        {
            "main.py": "print('hi')\n",
            "requirements.txt": requirement.replace("{canary}", str(canary)) + "\n",
        }
    )
    build = run_build(make_component(repo, "leaky", preset="python", entry="python3 main.py"))

    text = "\n".join(log_lines(build))
    assert build.status == Build.Status.FAILED
    assert build.runtime_kind == "local"
    assert refused in text
    assert WORKER_SECRET not in text
    assert "Invalid requirement: 'canary'" not in text
    assert canary.read_text() == "canary\n"


ATTACK = r"""
import json, os, socket, sys
report = {}
def attempt(name, fn):
    try:
        report[name] = "done: " + str(fn())[:80]
    except Exception as exc:
        report[name] = "refused: " + type(exc).__name__
attempt("read_canary", lambda: open(os.environ["CANARY"]).read())
attempt("list_var_dir", lambda: os.listdir(os.environ["VAR_DIR"]))
attempt("read_other_image", lambda: os.listdir(os.environ["OTHER_IMAGE"]))
attempt("worker_environ", lambda: open("/proc/%s/environ" % os.environ["WORKER_PID"]).read())
attempt("write_usr", lambda: open("/usr/chorus-pwned", "w").write("x"))
attempt("write_root", lambda: open("/chorus-pwned", "w").write("x"))
attempt("host_tls_keys", lambda: os.listdir("/etc/ssl/private"))
attempt("ca_certificates", lambda: len(os.listdir("/etc/ssl/certs")) > 0)
attempt("write_image", lambda: open("/image/app/main.py", "a").write("pwned"))
attempt("host_port", lambda: socket.create_connection(("127.0.0.1", int(os.environ["PORT"])), 2))
report["secret_in_env"] = any(os.environ.get(k) == os.environ["LOOK_FOR"] for k in os.environ if k != "LOOK_FOR")
report["processes"] = sorted(p for p in os.listdir("/proc") if p.isdigit())
report["uid"] = os.getuid()
open("/tmp/scratch", "w").write("private tmp works")
print(json.dumps(report))
"""


@pytest.fixture
def host_server():
    """A TCP server on the host's loopback that counts the connections it accepts."""
    with counting_server("127.0.0.1") as served:
        yield served


def test_a_task_reaches_nothing_past_its_own_image(
    local_dev, canary, settings, repo, make_component, run_build, host_server
):
    port, accepted = host_server
    repo.commit({"main.py": "print('other project')\n"})
    other = run_build(make_component(repo, "other", preset="python", entry="python3 main.py"))
    repo.commit({"main.py": ATTACK})
    build = run_build(make_component(repo, "attack", preset="python", entry="python3 main.py"))
    assert other.status == build.status == Build.Status.SUCCEEDED, log_lines(build)[-5:]
    main_py = Path(build.image_ref) / "app" / "main.py"
    before = main_py.read_text()

    out = Collect()
    runtime = get_runtime(local_dev)
    assert isinstance(runtime, LocalRuntime)
    result = runtime.run(
        image=build.image_ref,
        env={
            "CANARY": str(canary),
            "VAR_DIR": str(settings.VAR_DIR),
            "OTHER_IMAGE": other.image_ref,
            "WORKER_PID": str(os.getpid()),
            "PORT": str(port),
            "LOOK_FOR": WORKER_SECRET,
        },
        limits=Limits(),
        timeout=60,
        log=out,
    )

    assert result.exit_code == 0, out
    report = json.loads(out[-1][1])
    assert report["read_canary"] == "refused: FileNotFoundError"
    assert report["list_var_dir"] == "refused: FileNotFoundError"
    assert report["read_other_image"] == "refused: FileNotFoundError"
    assert report["worker_environ"] == "refused: FileNotFoundError"
    assert report["write_usr"] == "refused: OSError"  # read-only file system
    assert report["write_root"] == "refused: OSError"
    assert report["host_tls_keys"] == "refused: FileNotFoundError"
    assert report["ca_certificates"] == "done: True"  # TLS still works
    assert report["write_image"] == "refused: OSError"
    assert report["host_port"].startswith("refused:")
    assert report["secret_in_env"] is False
    assert len(report["processes"]) <= 3  # bwrap's init, the task (and its /proc read)
    assert report["uid"] == 65534
    assert WORKER_SECRET not in out.text()
    assert accepted == []
    assert canary.read_text() == "canary\n"
    assert main_py.read_text() == before
    assert not Path("/usr/chorus-pwned").exists()


def test_a_task_line_of_gigabytes_is_cut_and_the_worker_does_not_grow(
    local_dev, repo, make_component, run_build
):
    import resource

    repo.commit(
        {
            "main.py": "import sys\n"
            "chunk = 'x' * (1 << 20)\n"
            "for _ in range(300):\n"
            "    sys.stdout.write(chunk)\n"
            "sys.stdout.write('\\nafter\\n')\n"
        }
    )
    build = run_build(make_component(repo, "chatty", preset="python", entry="python3 main.py"))
    assert build.status == Build.Status.SUCCEEDED, log_lines(build)[-5:]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = Collect()
    result = get_runtime(local_dev).run(
        image=build.image_ref, env={}, limits=Limits(), timeout=120, log=out
    )
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024

    assert result.exit_code == 0
    lines = [line for _s, line in out]
    assert lines[0] == "x" * 8000 + " …[line cut by Chorus: longer than 8000 bytes]"
    assert lines[1:] == ["after"]
    assert grown_mb < 100, f"the worker grew by {grown_mb:.0f} MB reading a 300 MB line"


@pytest.mark.parametrize("kind", ["auto", "local"])
def test_production_refuses_the_local_runtime_and_auto_does_not_fall_back(
    build_settings, repo, make_component, run_build, kind
):
    build_settings.PRODUCTION = True
    build_settings.CHORUS_ALLOW_LOCAL_RUNTIME = False
    build_settings.CHORUS_DEFAULT_RUNTIME = "auto"
    build_settings.CHORUS_DOCKER_HOST = "unix:///nonexistent/docker.sock"
    Environment.objects.filter(slug="dev").update(runtime_kind=kind)
    repo.commit({"main.py": "print('hi')\n"})

    build = run_build(make_component(repo, "prod", preset="python", entry="python3 main.py"))

    assert build.status == Build.Status.FAILED
    off = "The local runtime is off in production (CHORUS_ENV=production)"
    if kind == "auto":
        assert build.error.startswith("Docker engine not reachable at unix:///nonexistent/")
        assert f"No fallback: {off}" in build.error
    else:
        assert build.error.startswith(off)
    assert log_lines(build)[-1] == f"Build failed: {build.error}"
    images = Path(build_settings.CHORUS_LOCAL_IMAGES_DIR)
    assert not images.exists() or not any(images.iterdir())


def test_auto_says_in_the_build_log_why_it_builds_locally(
    build_settings, repo, make_component, run_build
):
    build_settings.CHORUS_DEFAULT_RUNTIME = "auto"
    build_settings.CHORUS_DOCKER_HOST = "unix:///nonexistent/docker.sock"
    Environment.objects.filter(slug="dev").update(runtime_kind="auto")
    repo.commit({"main.py": "print('hi')\n"})

    build = run_build(make_component(repo, "dev", preset="python", entry="python3 main.py"))

    assert build.status == Build.Status.SUCCEEDED and build.runtime_kind == "local"
    assert any(
        line.startswith("Docker engine not reachable at unix:///nonexistent/docker.sock")
        and line.endswith("Building with the local runtime instead.")
        for line in log_lines(build)
    )
