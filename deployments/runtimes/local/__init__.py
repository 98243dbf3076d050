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
