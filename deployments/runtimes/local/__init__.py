"""The local runtime: no Docker engine needed. An "image" is a prepared directory.

Both steps run in a bubblewrap sandbox (sandbox.py): own namespaces, an allowlisted
read-only system, the image directory mounted at /image, a private /tmp, a clean environment,
nothing of Chorus's VAR_DIR. In production it is refused unless CHORUS_ALLOW_LOCAL_RUNTIME.

build: the source tree is copied into CHORUS_LOCAL_IMAGES_DIR/<digest>/app; in the sandbox
(with the host's network, for pip) a virtualenv is made at /image/venv and requirements.txt
or pyproject dependencies are pip-installed into it; what the Dockerfile would start (its
ENTRYPOINT/CMD, `python3 …`) is recorded in image.json. The digest is a sha256 over the tree
and the command, so the same source gives the same image and a rebuild reuses it.

run: the command runs in the sandbox (image read-only, no network unless
CHORUS_LOCAL_TASK_NETWORK), in its own session (so a timeout or cancel kills the whole
process group), with rlimits on memory (RLIMIT_AS), CPU time and processes, HOME and TMPDIR
in the private /tmp, and cwd /image/app. docs/security.md says what it does not isolate.

A run has a directory (runs/<id>/, rundir.py) holding its labels, its output and, once it
ended, its exit status: the task runs on when its worker dies, and the reconciler's
find/output/stop read and remove that directory as they do a container. The worker removes it
once the exit code and the output are collected.
"""

from __future__ import annotations
