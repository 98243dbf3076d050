"""manage.py build_base_images [busybox|python|all]: the offline base images (no registry).

A thin wrapper around deployments.builds.baseimages, talking to the engine Chorus builds with
(DOCKER_HOST or the local socket).
"""

from __future__ import annotations

import subprocess

import docker.errors
from django.core.management.base import BaseCommand, CommandError

from deployments.builds.baseimages.busybox import ensure_busybox_image
from deployments.builds.baseimages.common import BaseImageError
from deployments.builds.baseimages.python import ensure_python_image
from deployments.runtimes.base import RuntimeUnavailable
from deployments.runtimes.docker.runtime import DockerRuntime


class Command(BaseCommand):
    help = "Build chorus/busybox:latest (FROM scratch) and chorus/python:3-debian (debootstrap)."

    def add_arguments(self, parser):
        parser.add_argument("which", nargs="?", default="all", choices=["busybox", "python", "all"])

    def handle(self, *args, which: str = "all", **options):
        def log(line: str) -> None:
            self.stdout.write(line)

        try:
            client = DockerRuntime.for_environment(None).client(timeout=600)
        except RuntimeUnavailable as exc:
            raise CommandError(str(exc)) from exc
        try:
            if which in ("busybox", "all"):
                ensure_busybox_image(client, log=log)
            if which in ("python", "all"):
                ensure_python_image(client, log=log)
        except (
            BaseImageError,
            docker.errors.DockerException,
            subprocess.CalledProcessError,
        ) as exc:
            raise CommandError(str(exc)) from exc
        finally:
            client.close()
