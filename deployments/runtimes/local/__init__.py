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

from deployments.runtimes.base import RuntimeUnavailable
from deployments.runtimes.local.build import PYTHON_RE as PYTHON_RE
from deployments.runtimes.local.build import SHELL_META as SHELL_META
from deployments.runtimes.local.images import IMAGE_DIR_RE as IMAGE_DIR_RE
from deployments.runtimes.local.images import IMAGE_FILE as IMAGE_FILE
from deployments.runtimes.local.images import SKIP_NAMES as SKIP_NAMES
from deployments.runtimes.local.images import _default_images_dir as _default_images_dir
from deployments.runtimes.local.images import _locked as _locked
from deployments.runtimes.local.images import _tree_files as _tree_files
from deployments.runtimes.local.images import tree_digest
from deployments.runtimes.local.processes import CANCEL_POLL_SECONDS as CANCEL_POLL_SECONDS
from deployments.runtimes.local.processes import _drain_after_exit as _drain_after_exit
from deployments.runtimes.local.processes import _kill_group as _kill_group
from deployments.runtimes.local.processes import _proc_start_time as _proc_start_time
from deployments.runtimes.local.processes import _process_count as _process_count
from deployments.runtimes.local.processes import _pump as _pump
from deployments.runtimes.local.runtime import LocalRuntime

__all__ = ["LocalRuntime", "RuntimeUnavailable", "tree_digest"]
