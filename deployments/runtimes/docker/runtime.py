"""The Docker runtime, put together from its parts (connection, build, run, containers,
images)."""

from __future__ import annotations

from deployments.runtimes.docker.build import DockerBuild
from deployments.runtimes.docker.containers import DockerContainers
from deployments.runtimes.docker.images import DockerImages
from deployments.runtimes.docker.run import DockerRun


class DockerRuntime(DockerBuild, DockerRun, DockerContainers, DockerImages):
    kind = "docker"

    @classmethod
    def for_environment(cls, environment=None) -> DockerRuntime:
        from django.conf import settings

        host = (getattr(environment, "docker_host", "") or "") or settings.CHORUS_DOCKER_HOST
        return cls(base_url=host, network=getattr(environment, "docker_network", "") or "")

    def __repr__(self) -> str:
        return f"DockerRuntime({self.where})"
