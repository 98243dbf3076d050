"""Reaching the Docker engine: one client per call, a short ping, readable reasons."""

from __future__ import annotations

import errno
import socket
from typing import Any

import docker
import docker.errors
import requests

from deployments.runtimes.base import Runtime, RuntimeUnavailable

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
PING_TIMEOUT = 2.0
API_TIMEOUT = 60.0
# Every container Chorus starts carries this label, so the reconciler never touches others.
MANAGED_LABEL = "org.chorus.managed"
CANCEL_POLL_SECONDS = 1.0


def _root_causes(exc: BaseException):
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        stack.extend([e.__cause__, e.__context__])
        stack.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))


def failure_reason(exc: BaseException, timeout: float) -> str:
    """A short human reason for a failed connection (the SDK's own text is a nested repr)."""
    for e in _root_causes(exc):
        if isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED:
            return "connection refused"
        if isinstance(e, FileNotFoundError) or getattr(e, "errno", None) == errno.ENOENT:
            return "no socket at that path"
        if isinstance(e, PermissionError) or getattr(e, "errno", None) == errno.EACCES:
            return "permission denied on the socket"
        if isinstance(e, socket.timeout | TimeoutError | requests.Timeout):
            return f"no answer within {timeout:g} s"
        if isinstance(e, socket.gaierror):
            return "unknown host name"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


class DockerConnection(Runtime):
    """What every Docker operation shares: where the engine is and how to reach it."""

    def __init__(
        self, *, base_url: str = "", network: str = "", ping_timeout: float = PING_TIMEOUT
    ) -> None:
        self.base_url = (base_url or "").strip()
        self.network = (network or "").strip()
        self.ping_timeout = ping_timeout
        # Why "auto" could not fall back to the local runtime (said with the engine's failure).
        self.unavailable_note = ""

    @property
    def where(self) -> str:
        return self.base_url or DEFAULT_SOCKET

    # --- connection -------------------------------------------------------------------------
    def unreachable_message(self, exc: BaseException) -> str:
        message = (
            f"Docker engine not reachable at {self.where} ({failure_reason(exc, self.ping_timeout)}). "
            "Start the engine (scripts/services.sh start) or fix DOCKER_HOST / the "
            "environment's Docker host."
        )
        return f"{message} {self.unavailable_note}" if self.unavailable_note else message

    def client(self, *, timeout: float | None = API_TIMEOUT) -> docker.DockerClient:
        """A client whose first request (the API version) must answer within ping_timeout.

        `timeout` then applies to later requests; None means no read timeout (streams)."""
        kwargs: dict[str, Any] = docker.utils.kwargs_from_env()
        if self.base_url:
            kwargs["base_url"] = self.base_url
        try:
            client = docker.DockerClient(**kwargs, timeout=self.ping_timeout)
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            raise RuntimeUnavailable(self.unreachable_message(exc)) from exc
        client.api.timeout = timeout
        return client

    def check(self) -> None:
        """Raise RuntimeUnavailable with a readable message unless the engine answers."""
        client = self.client(timeout=self.ping_timeout)
        try:
            client.ping()
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            raise RuntimeUnavailable(self.unreachable_message(exc)) from exc
        finally:
            client.close()

    def available(self) -> bool:
        try:
            self.check()
        except RuntimeUnavailable:
            return False
        return True

    @staticmethod
    def _kill(api, container_id: str) -> None:
        try:
            api.kill(container_id)
        except (docker.errors.DockerException, requests.RequestException, OSError):
            pass  # already exited
