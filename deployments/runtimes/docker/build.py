"""Docker builds: the classic builder's stream, read in a thread, with deadline and cancel."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import docker
import docker.errors
import requests
from docker.types.daemon import CancellableStream

from deployments.runtimes.base import (
    BuildCancelled,
    BuildError,
    BuildTimedOut,
    BuiltImage,
    CancelFn,
    Limits,
    LogFn,
    RuntimeUnavailable,
)
from deployments.runtimes.docker.connection import (
    CANCEL_POLL_SECONDS,
    MANAGED_LABEL,
    DockerConnection,
    failure_reason,
)
from deployments.runtimes.docker.network import default_network, ensure_network
from deployments.runtimes.lines import LineBuffer


class DockerBuild(DockerConnection):
    """`build` with the classic builder."""

    def build(
        self,
        *,
        source_dir: Path,
        tag: str,
        log: LogFn,
        build_args: Mapping[str, str] | None = None,
        cancel: CancelFn | None = None,
        timeout: float | None = None,
        limits: Limits | None = None,
    ) -> BuiltImage:
        source_dir = Path(source_dir)
        if not (source_dir / "Dockerfile").is_file():
            raise BuildError("There is no Dockerfile in the source directory.")
        client = self.client(timeout=None)
        api = client.api
        log(f"Building {tag} with the Docker engine at {self.where}", "chorus")
        container_limits = self._container_limits(api, limits)
        try:
            # RUN steps sit on the task network too: firewalled from the host's ports.
            network = self.network or ensure_network(api, default_network(), where=self.where)
        except RuntimeUnavailable:
            client.close()
            raise

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
                    container_limits=container_limits,
                    network_mode=network,
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

        out = LineBuffer(log, "stdout")
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
            image_id = image.id or image_id
            log(f"Image {image_id} (tagged {tag}; runs start the id, never the tag)", "chorus")
            return BuiltImage(ref=image_id, digest=image_id, tag=tag)
        finally:
            client.close()

    @staticmethod
    def _container_limits(api, limits: Limits | None) -> dict:
        """Every RUN step's memory (no swap on top) and CPUs: the classic builder takes a
        cpuset, so a build uses at most `cpus` of the engine's processors."""
        if limits is None:
            return {}
        memory = limits.memory_mb * 1024 * 1024
        result: dict = {"memory": memory, "memswap": memory}
        try:
            ncpu = int(api.info().get("NCPU") or 0)
        except (docker.errors.DockerException, requests.RequestException, OSError, ValueError):
            ncpu = 0
        cpus = max(1, int(limits.cpus))
        if ncpu and cpus < ncpu:
            result["cpusetcpus"] = f"0-{cpus - 1}" if cpus > 1 else "0"
        return result

    @staticmethod
    def _build_chunk(chunk: dict, out: LineBuffer, log: LogFn, errors: list[str]) -> str:
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
                f"({failure_reason(exc, self.ping_timeout)})."
            )
        return BuildError(f"The build failed: {type(exc).__name__}: {exc}")
