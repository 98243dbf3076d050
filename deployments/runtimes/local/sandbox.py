"""The bubblewrap sandbox the local runtime builds and runs in.

Every build step (venv, pip install) and every task runs under `bwrap` with:
- its own user, pid, ipc, uts, cgroup and mount namespaces (`--unshare-all --unshare-user`),
  as uid/gid 65534 inside, without capabilities; a build step dies with its worker
  (`--die-with-parent`), while a task runs on in its own session when its worker dies, its
  output and exit status going to files of its run directory (run.py), so the reconciler
  can adopt them as it adopts a container's;
- a filesystem made from an allowlist, not the host's root: the system directories (/usr and
  its /bin, /lib… links) and Python's own installation read-only, a few files of /etc that
  name resolution and TLS need, a fresh /proc (only the sandbox's processes: no
  /proc/<worker>/environ), a minimal /dev, a private /tmp (a tmpfs no larger than the memory
  limit), a read-only root, and its own image
  directory at /image: read-write for the build, read-only for a run. Nothing of Chorus's
  VAR_DIR (database, encryption key, broker, builds, other images) is mounted; where a
  mounted directory happens to contain one of those, a tmpfs hides it;
- the environment it is given and nothing else (the worker's is never inherited): the task's
  config and CHORUS_* variables for a run; PATH, HOME and pip's own settings for a build;
- network: a build shares the host's network (pip must reach its index); a run has none
  (only a loopback of its own) unless CHORUS_LOCAL_TASK_NETWORK is on. See docs/security.md
  for what that means.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from deployments.runtimes.base import RuntimeUnavailable

IMAGE_MOUNT = "/image"
SANDBOX_UID = 65534
# Host paths that are links into /usr on merged-/usr systems (Debian 12) or real directories.
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# /etc: only what resolving names, TLS and pip's site-wide configuration read.
ETC_PATHS = (
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/localtime",
    # CA certificates only: /etc/ssl/private and /etc/pki/tls/private hold the host's keys.
    "/etc/ssl/certs",
    "/etc/ssl/openssl.cnf",
    "/etc/ca-certificates",
    "/etc/pki/tls/certs",
    "/etc/pki/ca-trust",
    "/etc/mime.types",
    "/etc/pip.conf",
    "/etc/xdg/pip",
)
# pip settings and proxies a build may need to reach its index (never Chorus's own secrets).
BUILD_ENV_PREFIXES = ("PIP_",)
BUILD_ENV_NAMES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
)


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


@functools.cache
def _probe(bwrap: str) -> str:
    """'' when bwrap can make a sandbox here, else why not (cached per process)."""
    try:
        proc = subprocess.run(
            [bwrap, *_namespace_args(network=False), "--ro-bind", "/", "/", "true"],
            env={},
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return str(exc)
    if proc.returncode != 0:
        return proc.stderr.decode(errors="replace").strip() or f"exit {proc.returncode}"
    return ""


def check() -> str:
    """The bwrap executable, or RuntimeUnavailable saying why the sandbox cannot be made."""
    bwrap = bwrap_path()
    if not bwrap:
        raise RuntimeUnavailable(
            "The local runtime needs bubblewrap (the `bwrap` command) to sandbox builds and "
            "tasks; install the Debian package `bubblewrap` (scripts/services.sh install)."
        )
    reason = _probe(bwrap)
    if reason:
        raise RuntimeUnavailable(
            f"bubblewrap cannot create a sandbox on this machine ({reason}); the local "
            "runtime needs user namespaces."
        )
    return bwrap


def _namespace_args(*, network: bool, die_with_parent: bool = True) -> list[str]:
    args = [
        "--unshare-all",
        "--unshare-user",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--hostname",
        "chorus-task",
    ]
    if die_with_parent:
        args.append("--die-with-parent")
    if network:
        args.append("--share-net")
    return args


def _inside(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def hidden_paths() -> list[Path]:
    """Chorus's own state: never visible in a sandbox."""
    from django.conf import settings

    paths = [
        settings.VAR_DIR,
        settings.CHORUS_BUILD_DIR,
        settings.CHORUS_LOCAL_IMAGES_DIR,
        getattr(settings, "BROKER_DIR", None),
        settings.BASE_DIR,
    ]
    db_name = str(settings.DATABASES["default"].get("NAME") or "")
    if db_name.startswith("/"):
        paths.append(Path(db_name).parent)
    return [Path(os.path.realpath(p)) for p in paths if p]


def _python_paths(python: str) -> list[Path]:
    """The interpreter's installation (e.g. /usr/local or a pyenv prefix), when not in /usr."""
    prefix = Path(os.path.realpath(sys.base_prefix))
    exe_root = Path(os.path.realpath(python)).parent.parent
    return [p for p in {prefix, exe_root} if not _inside(p, Path("/usr"))]


def command(
    argv: list[str],
    *,
    bwrap: str,
    image_dir: Path,
    writable_image: bool,
    network: bool,
    python: str,
    workdir: str,
    tmp_mb: int,
    extra_read_only: Iterable[str] = (),
    writable: Iterable[tuple[Path, str]] = (),
    die_with_parent: bool = True,
    status_fd: int | None = None,
) -> list[str]:
    """The bwrap command line that runs `argv` in the sandbox (cwd `workdir`, inside), with a
    private /tmp of at most `tmp_mb` (it is memory: counted against nothing else) and each
    (host directory, inside path) of `writable` bound read-write. Without `die_with_parent`
    the sandbox outlives the process that started it; `status_fd` gets bwrap's JSON status
    (the child's pid at the start, `{"exit-code": N}` at the end)."""
    args = [bwrap, *_namespace_args(network=network, die_with_parent=die_with_parent)]
    if status_fd is not None:
        args += ["--json-status-fd", str(status_fd)]
    # The private /tmp first: a read-only path below /tmp (CHORUS_LOCAL_SANDBOX_PATHS) stays.
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(tmp_mb * 1024 * 1024)]
    args += ["--tmpfs", "/tmp"]
    mounted: list[Path] = []
    for path in SYSTEM_PATHS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
            mounted.append(Path(path))
    for path in ETC_PATHS:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    for path in [*_python_paths(python), *(Path(p) for p in extra_read_only if p)]:
        real = Path(os.path.realpath(path))
        if real.exists():
            args += ["--ro-bind", str(real), str(real)]
            mounted.append(real)
    for hidden in hidden_paths():
        if any(_inside(hidden, m) for m in mounted):
            args += ["--tmpfs", str(hidden)]
    args += ["--bind" if writable_image else "--ro-bind", str(image_dir), IMAGE_MOUNT]
    for host, inside in writable:
        args += ["--bind", str(host), inside]
    # The sandbox's own root (a tmpfs holding the mount points) is read-only too.
    args += ["--remount-ro", "/", "--chdir", workdir, "--", *argv]
    return args


def build_env() -> dict[str, str]:
    """A build step's environment: a PATH, a HOME in the private /tmp, pip's settings."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
    }
    for key, value in os.environ.items():
        if key.startswith(BUILD_ENV_PREFIXES) or key in BUILD_ENV_NAMES:
            env[key] = value
    return env
