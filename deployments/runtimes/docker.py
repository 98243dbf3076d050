"""The Docker runtime: builds with the engine's classic builder, runs tasks as containers.

Every call opens its own client (cheap; processes fork, threads come and go) and asks the
engine its API version within `ping_timeout` seconds, so an engine that is down or a
DOCKER_HOST that points nowhere surfaces as `RuntimeUnavailable` in about a second instead
of hanging a build. Long streams (the build output, a container's output) are read in a
thread with no socket timeout; the calling thread enforces the deadline and polls `cancel`,
and aborts by closing the stream (build) or killing the container (run).
"""

from __future__ import annotations

import errno
import queue
import socket
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests
from docker.types.daemon import CancellableStream

from .base import (
    BuildCancelled,
    BuildError,
    BuildTimedOut,
    BuiltImage,
    CancelFn,
    ImageInUse,
    ImageRemoveError,
    Limits,
    LogFn,
    RunningTask,
    RunResult,
    Runtime,
    RuntimeUnavailable,
)

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


def _reason(exc: BaseException, timeout: float) -> str:
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


class _LineBuffer:
    """Turns chunks of bytes or text into complete lines (the last partial line is kept)."""

    def __init__(self, log: LogFn, stream: str) -> None:
        self.log, self.stream, self.rest = log, stream, ""

    def feed(self, data: bytes | str) -> None:
        text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
        text = self.rest + text
        *lines, self.rest = text.split("\n")
        for line in lines:
            self.log(line.rstrip("\r"), self.stream)

    def close(self) -> None:
        if self.rest:
            self.log(self.rest.rstrip("\r"), self.stream)
            self.rest = ""


class DockerRuntime(Runtime):
    kind = "docker"

    def __init__(
        self, *, base_url: str = "", network: str = "", ping_timeout: float = PING_TIMEOUT
    ) -> None:
        self.base_url = (base_url or "").strip()
        self.network = (network or "").strip()
        self.ping_timeout = ping_timeout

    @classmethod
    def for_environment(cls, environment=None) -> DockerRuntime:
        from django.conf import settings

        host = (getattr(environment, "docker_host", "") or "") or settings.CHORUS_DOCKER_HOST
        return cls(base_url=host, network=getattr(environment, "docker_network", "") or "")

    @property
    def where(self) -> str:
        return self.base_url or DEFAULT_SOCKET

    def __repr__(self) -> str:
        return f"DockerRuntime({self.where})"

    # --- connection -------------------------------------------------------------------------
    def unreachable_message(self, exc: BaseException) -> str:
        return (
            f"Docker engine not reachable at {self.where} ({_reason(exc, self.ping_timeout)}). "
            "Start the engine (scripts/services.sh start) or fix DOCKER_HOST / the "
            "environment's Docker host."
        )

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

    # --- build ------------------------------------------------------------------------------
    def build(
        self,
        *,
        source_dir: Path,
        tag: str,
        log: LogFn,
        build_args: Mapping[str, str] | None = None,
        cancel: CancelFn | None = None,
        timeout: float | None = None,
    ) -> BuiltImage:
        source_dir = Path(source_dir)
        if not (source_dir / "Dockerfile").is_file():
            raise BuildError("There is no Dockerfile in the source directory.")
        client = self.client(timeout=None)
        api = client.api
        log(f"Building {tag} with the Docker engine at {self.where}", "chorus")

        # The SDK hides the HTTP response behind a generator; keep it so that a cancel or a
        # timeout can close the connection, which makes the engine abort the build.
        responses: list[requests.Response] = []
        stream_helper = api._stream_helper

        def keep_response(response, decode=False):
            responses.append(response)
            return stream_helper(response, decode=decode)

        api._stream_helper = keep_response
        events: queue.Queue = queue.Queue()

        def read() -> None:
            try:
                for chunk in api.build(
                    path=str(source_dir),
                    tag=tag,
                    rm=True,
                    forcerm=True,
                    pull=False,
                    decode=True,
                    buildargs=dict(build_args or {}),
                    labels={MANAGED_LABEL: "true"},
                ):
                    events.put(("chunk", chunk))
            except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                events.put(("exception", exc))
            finally:
                events.put(("end", None))

        reader = threading.Thread(target=read, name=f"docker-build {tag}", daemon=True)
        reader.start()

        def abort() -> None:
            for response in responses:
                try:
                    CancellableStream(None, response).close()
                except Exception:  # noqa: BLE001 - best effort; the thread is a daemon
                    pass
            reader.join(timeout=10)
            client.close()

        out = _LineBuffer(log, "stdout")
        image_id = ""
        errors: list[str] = []
        failure: BaseException | None = None
        deadline = time.monotonic() + timeout if timeout else None
        next_cancel_check = 0.0
        try:
            while True:
                try:
                    kind, item = events.get(timeout=0.25)
                except queue.Empty:
                    kind, item = "idle", None
                if kind == "end":
                    break
                if kind == "exception":
                    failure = item
                elif kind == "chunk":
                    image_id = self._build_chunk(item, out, log, errors) or image_id
                now = time.monotonic()
                if deadline is not None and now > deadline:
                    out.close()
                    abort()
                    raise BuildTimedOut(f"The build took longer than {timeout:g} seconds.")
                if cancel is not None and now >= next_cancel_check:
                    next_cancel_check = now + CANCEL_POLL_SECONDS
                    if cancel():
                        out.close()
                        abort()
                        raise BuildCancelled("The build was cancelled.")
            out.close()
        finally:
            api._stream_helper = stream_helper

        try:
            if failure is not None:
                raise self._build_failure(failure, log)
            if errors:
                raise BuildError(f"The Docker build failed: {errors[-1]}")
            try:
                image = client.images.get(tag)
            except docker.errors.DockerException as exc:
                raise BuildError(
                    f"The build finished but {tag} is not on the engine: {exc}"
                ) from exc
            return BuiltImage(ref=tag, digest=image.id or image_id)
        finally:
            client.close()

    @staticmethod
    def _build_chunk(chunk: dict, out: _LineBuffer, log: LogFn, errors: list[str]) -> str:
        if "stream" in chunk:
            out.feed(str(chunk["stream"]))
        if "error" in chunk or "errorDetail" in chunk:
            out.close()
            message = str(chunk.get("error") or chunk.get("errorDetail", {}).get("message", ""))
            for line in message.strip().splitlines() or ["(the engine gave no message)"]:
                log(line, "stderr")
            errors.append(message.strip().splitlines()[-1] if message.strip() else "unknown error")
        if "status" in chunk and not chunk.get("progressDetail"):
            # Pull progress: one line per layer event, not a line per progress tick.
            status = " ".join(str(chunk[k]) for k in ("id", "status") if chunk.get(k))
            out.close()
            log(status, "stdout")
        aux = chunk.get("aux")
        if isinstance(aux, dict) and str(aux.get("ID", "")).startswith("sha256:"):
            return str(aux["ID"])
        return ""

    def _build_failure(self, exc: BaseException, log: LogFn) -> Exception:
        if isinstance(exc, docker.errors.APIError):
            message = str(exc.explanation or exc).strip()
            for line in message.splitlines():
                log(line, "stderr")
            return BuildError(f"The Docker engine refused the build: {message}")
        if isinstance(exc, docker.errors.DockerException | requests.RequestException | OSError):
            return RuntimeUnavailable(
                f"Lost the connection to the Docker engine at {self.where} during the build "
                f"({_reason(exc, self.ping_timeout)})."
            )
        return BuildError(f"The build failed: {type(exc).__name__}: {exc}")

    # --- run --------------------------------------------------------------------------------
    def run(
        self,
        *,
        image: str,
        env: Mapping[str, str],
        limits: Limits,
        timeout: float,
        log: LogFn,
        labels: Mapping[str, str] | None = None,
        command: list[str] | None = None,
        cancel: CancelFn | None = None,
        on_start: Callable[[str], None] | None = None,
    ) -> RunResult:
        try:
            client = self.client(timeout=None)
        except RuntimeUnavailable as exc:
            return RunResult(exit_code=None, error=str(exc))
        api = client.api
        try:
            host_config = api.create_host_config(
                mem_limit=f"{limits.memory_mb}m",
                # Same as mem_limit: no swap on top of the memory limit.
                memswap_limit=f"{limits.memory_mb}m",
                nano_cpus=int(limits.cpus * 1_000_000_000),
                pids_limit=limits.pids,
                privileged=False,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                network_mode=self.network or None,
            )
            container = api.create_container(
                image=image,
                command=command,
                environment={str(k): str(v) for k, v in env.items()},
                labels={
                    MANAGED_LABEL: "true",
                    **{str(k): str(v) for k, v in (labels or {}).items()},
                },
                host_config=host_config,
                detach=True,
                stdin_open=False,
                tty=False,
            )
        except docker.errors.ImageNotFound:
            client.close()
            return RunResult(
                exit_code=None,
                error=f"Image {image} is not on the Docker engine at {self.where}; build it again.",
            )
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            client.close()
            return RunResult(exit_code=None, error=self._run_error("create the container", exc))
        container_id = str(container["Id"])
        try:
            return self._run_container(
                client, container_id, timeout=timeout, log=log, cancel=cancel, on_start=on_start
            )
        finally:
            try:
                api.remove_container(container_id, force=True)
            except (docker.errors.DockerException, requests.RequestException, OSError):
                pass  # the reconciler removes leftovers by label
            client.close()

    def _run_error(self, what: str, exc: BaseException) -> str:
        if isinstance(exc, docker.errors.APIError):
            return f"The Docker engine could not {what}: {exc.explanation or exc}"
        return (
            f"Lost the connection to the Docker engine at {self.where} "
            f"({_reason(exc, self.ping_timeout)})."
        )

    def _run_container(
        self,
        client: docker.DockerClient,
        container_id: str,
        *,
        timeout: float,
        log: LogFn,
        cancel: CancelFn | None,
        on_start: Callable[[str], None] | None,
    ) -> RunResult:
        api = client.api
        result = RunResult(exit_code=None, container_id=container_id)
        events: queue.Queue = queue.Queue()
        attached = threading.Event()

        def read() -> None:
            # Attached before the start (like `docker run`), so no early line is lost.
            try:
                stream = api.attach(
                    container_id, stdout=True, stderr=True, stream=True, logs=True, demux=True
                )
                attached.set()
                for out, err in stream:
                    if out:
                        events.put(("stdout", out))
                    if err:
                        events.put(("stderr", err))
            except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                events.put(("exception", exc))
            finally:
                attached.set()
                events.put(("end", None))

        reader = threading.Thread(target=read, name=f"docker-run {container_id[:12]}", daemon=True)
        reader.start()
        attached.wait(timeout=API_TIMEOUT)
        try:
            api.start(container_id)
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            result.error = self._run_error("start the container", exc)
            return result
        if on_start is not None:
            on_start(container_id)

        buffers = {"stdout": _LineBuffer(log, "stdout"), "stderr": _LineBuffer(log, "stderr")}
        deadline = time.monotonic() + timeout
        next_cancel_check = 0.0
        killed = False
        while True:
            try:
                kind, item = events.get(timeout=0.2)
            except queue.Empty:
                kind, item = "idle", None
            if kind == "end":
                break
            if kind in buffers:
                buffers[kind].feed(item)
            elif kind == "exception":
                # The stream broke (engine restarted?): fall through to wait() for the exit.
                break
            if killed:
                continue
            now = time.monotonic()
            if now > deadline:
                result.timed_out = killed = True
                self._kill(api, container_id)
            elif cancel is not None and now >= next_cancel_check:
                next_cancel_check = now + CANCEL_POLL_SECONDS
                if cancel():
                    result.cancelled = killed = True
                    self._kill(api, container_id)
        for buffer in buffers.values():
            buffer.close()

        try:
            remaining = max(deadline - time.monotonic(), 0) + 30
            api.timeout = remaining
            status = api.wait(container_id, timeout=remaining)
            result.exit_code = int(status.get("StatusCode"))
            error = (status.get("Error") or {}).get("Message")
            if error and not result.error:
                result.error = f"The Docker engine reported: {error}"
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            self._kill(api, container_id)
            result.error = result.error or self._run_error("wait for the container", exc)
        if not (result.timed_out or result.cancelled) and result.exit_code == 137:
            oom = self._oom_killed(api, container_id)
            if oom:
                result.error = "The task ran out of memory (killed by the memory limit)."
        return result

    @staticmethod
    def _kill(api, container_id: str) -> None:
        try:
            api.kill(container_id)
        except (docker.errors.DockerException, requests.RequestException, OSError):
            pass  # already exited

    @staticmethod
    def _oom_killed(api, container_id: str) -> bool:
        try:
            return bool(api.inspect_container(container_id)["State"].get("OOMKilled"))
        except (docker.errors.DockerException, requests.RequestException, OSError, KeyError):
            return False

    # --- reconciler -------------------------------------------------------------------------
    def find(self, labels: Mapping[str, str]) -> list[RunningTask]:
        client = self.client(timeout=API_TIMEOUT)
        try:
            wanted = {MANAGED_LABEL: "true", **labels}
            found = client.api.containers(
                all=True, filters={"label": [f"{k}={v}" for k, v in wanted.items()]}
            )
            tasks = []
            for c in found:
                running = c.get("State") == "running"
                exit_code = None
                if not running:
                    try:
                        state = client.api.inspect_container(c["Id"])["State"]
                        exit_code = state.get("ExitCode")
                    except docker.errors.DockerException:
                        pass
                tasks.append(
                    RunningTask(
                        container_id=c["Id"],
                        labels=dict(c.get("Labels") or {}),
                        running=running,
                        exit_code=exit_code,
                    )
                )
            return tasks
        finally:
            client.close()

    def stop(self, container_id: str) -> None:
        client = self.client(timeout=API_TIMEOUT)
        try:
            self._kill(client.api, container_id)
            self.remove(container_id)
        finally:
            client.close()

    def remove(self, container_id: str) -> None:
        client = self.client(timeout=API_TIMEOUT)
        try:
            client.api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            pass
        except (docker.errors.DockerException, requests.RequestException, OSError):
            pass  # best effort by contract
        finally:
            client.close()

    # --- image clean-up ---------------------------------------------------------------------
    def remove_image(self, ref: str) -> None:
        """Untag / delete `ref` without force: the engine refuses (409) while a container,
        running or stopped, still uses the image, and then the image is kept."""
        client = self.client(timeout=API_TIMEOUT)
        try:
            client.images.remove(image=ref, force=False)
        except docker.errors.ImageNotFound:
            pass  # already gone: nothing left to do
        except docker.errors.APIError as exc:
            detail = str(exc.explanation or exc).strip()
            if exc.status_code == 409:
                raise ImageInUse(f"Kept {ref}: {detail}") from exc
            raise ImageRemoveError(f"The Docker engine could not remove {ref}: {detail}") from exc
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            raise RuntimeUnavailable(self.unreachable_message(exc)) from exc
        finally:
            client.close()
