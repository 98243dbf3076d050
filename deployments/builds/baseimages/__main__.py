"""python -m deployments.builds.baseimages [busybox|python|all]"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import docker
import docker.errors

from deployments.builds.baseimages.busybox import ensure_busybox_image
from deployments.builds.baseimages.common import DEFAULT_CACHE_DIR, BaseImageError
from deployments.builds.baseimages.python import ensure_python_image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deployments.builds.baseimages",
        description="Build the offline base images (no registry needed).",
    )
    parser.add_argument("which", nargs="?", default="all", choices=["busybox", "python", "all"])
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    args = parser.parse_args(argv)

    def log(line: str) -> None:
        print(line, flush=True)

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        print(
            f"Docker engine not reachable ({exc}); start it with scripts/services.sh start",
            file=sys.stderr,
        )
        return 1
    try:
        if args.which in ("busybox", "all"):
            ensure_busybox_image(client, log=log)
        if args.which in ("python", "all"):
            ensure_python_image(client, log=log, cache_dir=args.cache_dir)
    except (BaseImageError, docker.errors.DockerException, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
