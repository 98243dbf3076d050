"""Docker runs: a task as a labelled, limited container, attached before it starts.

A run with `hold_until` is started ahead of its tick and held by the wrapper of
deployments/runtimes/hold.py (a static busybox bind-mounted read-only, CHORUS_HOLD_BINARY)
until that instant; the wrapper then execs the image's own entrypoint and command.
"""

from __future__ import annotations

import io
import os
import queue
import tarfile
import threading
import time
from collections.abc import Callable, Mapping

import docker
import docker.errors
import requests

from deployments.runtimes.base import (
    CONTAINER_RESULT_DIR,
    CONTAINER_RESULT_FILE,
    RESULT_MAX_BYTES,
    CancelFn,
    ImagePullError,
    Limits,
    LogFn,
    RunResult,
    RuntimeUnavailable,
)
from deployments.runtimes.docker.connection import (
    API_TIMEOUT,
    CANCEL_POLL_SECONDS,
    MANAGED_LABEL,
    DockerConnection,
    failure_reason,
)
from deployments.runtimes.docker.network import (
    default_network,
    ensure_network,
    forget_network,
    task_user,
)
from deployments.runtimes.docker.starts import image_config, start_slot
from deployments.runtimes.hold import (
    HOLD_BUSYBOX,
    HOLD_SCRIPT,
    began_filter,
    hold_env,
)
from deployments.runtimes.lines import LineBuffer


class DockerRun(DockerConnection):
    """`run`: one container a task, removed afterwards."""

    @property
    def can_hold(self) -> bool:
        """True when runs can start ahead, held by the wrapper (CHORUS_HOLD_BINARY is set and,
        for an engine on this machine, is a file here)."""
        from django.conf import settings

        binary = getattr(settings, "CHORUS_HOLD_BINARY", "")
        if not binary:
            return False
        return not self.where.startswith("unix://") or os.path.isfile(binary)

    def run(self, **run_kwargs) -> RunResult:
        """The task's container from creation to removal; the creation and start wait for
        one of the engine's start slots (held until the container runs, or fails to)."""
        slot = start_slot(self.where)
        slot.acquire()
        released = False

        def started() -> None:
            nonlocal released
            if not released:
                released = True
                slot.release()

        try:
            return self._run(**run_kwargs, started=started)
        finally:
            started()

    def _run(
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
        run_as_root: bool = False,
        hold_until: float | None = None,
        on_begin: Callable[[float], None] | None = None,
        started: Callable[[], None],
    ) -> RunResult:
        try:
            client = self.client(timeout=None)
        except RuntimeUnavailable as exc:
            return RunResult(exit_code=None, error=str(exc))
        api = client.api
        try:
            network = self.network or ensure_network(api, default_network(), where=self.where)
            try:
                config = image_config(api, self.where, image)
            except docker.errors.ImageNotFound:
                # Gone from this engine (pruned by hand, a new host): a registry image is
                # pulled by its digest again; anything else cannot come back.
                problem = self._pull_again(image, log)
                if problem:
                    client.close()
                    return RunResult(exit_code=None, error=problem)
                config = image_config(api, self.where, image)
            user = task_user(config, run_as_root=run_as_root)
        except docker.errors.ImageNotFound:
            client.close()
            return RunResult(
                exit_code=None,
                error=f"Image {image} is not on the Docker engine at {self.where}; build it again.",
            )
        except RuntimeUnavailable as exc:
            client.close()
            return RunResult(exit_code=None, error=str(exc))
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            client.close()
            return RunResult(exit_code=None, error=self._run_error("inspect the image", exc))
        entrypoint = None
        environment = {
            **{str(k): str(v) for k, v in env.items()},
            "CHORUS_RESULT_FILE": CONTAINER_RESULT_FILE,
        }
        binds = None
        argv = [*(config.get("Entrypoint") or []), *(command or config.get("Cmd") or [])]
        if hold_until is not None and self.can_hold and argv:
            from django.conf import settings

            # The wrapper holds the task until the tick, then execs the image's own argv.
            entrypoint = [HOLD_BUSYBOX, "sh", "-c", HOLD_SCRIPT, "chorus-hold"]
            command = argv
            environment.update(hold_env(hold_until))
            binds = {settings.CHORUS_HOLD_BINARY: {"bind": HOLD_BUSYBOX, "mode": "ro"}}
            log = began_filter(log, on_begin)
        else:
            hold_until = None
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
                network_mode=network,
                binds=binds,
            )
            container = api.create_container(
                image=image,
                command=command,
                entrypoint=entrypoint,
                user=user,
                environment=environment,
                labels={
                    MANAGED_LABEL: "true",
                    **{str(k): str(v) for k, v in (labels or {}).items()},
                },
                host_config=host_config,
                detach=True,
                stdin_open=False,
                tty=False,
            )
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            client.close()
            if isinstance(exc, docker.errors.NotFound):
                forget_network(self.where, network)  # removed meanwhile: made again next run
            return RunResult(exit_code=None, error=self._run_error("create the container", exc))
        container_id = str(container["Id"])
        try:
            _result_dir_create(api, container_id)
            # A held task's timeout counts from the tick, not from its container's start.
            held_for = max(0.0, hold_until - time.time()) if hold_until is not None else 0.0
            result = self._run_container(
                client,
                container_id,
                timeout=timeout + held_for,
                log=log,
                cancel=cancel,
                on_start=on_start,
                started=started,
            )
            result.image_id = self._image_of(api, container_id)
            if result.exit_code is not None:
                result.result = _result_read(api, container_id)
            return result
        finally:
            try:
                api.remove_container(container_id, force=True)
            except (docker.errors.DockerException, requests.RequestException, OSError):
                pass  # the reconciler removes leftovers by label
            client.close()

    def _pull_again(self, image: str, log: LogFn) -> str:
        """Pull a vanished registry image; "" when it is back, else why not (in words)."""
        from deployments.registry import is_registry_ref, registry_for_ref

        if not is_registry_ref(image):
            return f"Image {image} is not on the Docker engine at {self.where}; build it again."
        registry = registry_for_ref(image)
        log(f"[chorus] {image} is not on {self.where}: pulling it by digest", "chorus")
        try:
            self.ensure_image(image, auth=registry.auth_config() if registry else None)
        except (ImagePullError, RuntimeUnavailable) as exc:
            # The reason is kept short (the log's first line names the image in full).
            return f"The image could not be pulled: {str(exc).replace(image, 'the image')}"
        return ""

    def _run_error(self, what: str, exc: BaseException) -> str:
        if isinstance(exc, docker.errors.APIError):
            return f"The Docker engine could not {what}: {exc.explanation or exc}"
        return (
            f"Lost the connection to the Docker engine at {self.where} "
            f"({failure_reason(exc, self.ping_timeout)})."
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
        started: Callable[[], None],
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
        finally:
            started()
        if on_start is not None:
            on_start(container_id)

        buffers = {"stdout": LineBuffer(log, "stdout"), "stderr": LineBuffer(log, "stderr")}
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
    def _image_of(api, container_id: str) -> str:
        """The id of the image the engine created this container from (its own record)."""
        try:
            return str(api.inspect_container(container_id).get("Image") or "")
        except (docker.errors.DockerException, requests.RequestException, OSError):
            return ""

    @staticmethod
    def _oom_killed(api, container_id: str) -> bool:
        try:
            return bool(api.inspect_container(container_id)["State"].get("OOMKilled"))
        except (docker.errors.DockerException, requests.RequestException, OSError, KeyError):
            return False


# --- the result file: a directory any user may write, copied in before the start and read
# back from the stopped container (no mount, so a remote engine works the same) -------------
def _result_dir_create(api, container_id: str) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(CONTAINER_RESULT_DIR.strip("/"))
        info.type, info.mode = tarfile.DIRTYPE, 0o1777
        tar.addfile(info)
    try:
        api.put_archive(container_id, "/", buf.getvalue())
    except (docker.errors.DockerException, requests.RequestException, OSError):
        pass  # the task then cannot write a result; it still runs


def _result_read(api, container_id: str) -> bytes | None:
    try:
        stream, stat = api.get_archive(container_id, CONTAINER_RESULT_FILE)
        if stat.get("size", 0) > 4 * RESULT_MAX_BYTES:
            return b"x" * (RESULT_MAX_BYTES + 1)  # oversized: not worth copying
        data = b"".join(stream)
    except (docker.errors.DockerException, requests.RequestException, OSError):
        return None  # no result file (the usual case)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = next((m for m in tar.getmembers() if m.isfile()), None)
        if member is None:
            return None
        f = tar.extractfile(member)
        return f.read(RESULT_MAX_BYTES + 1) if f is not None else None
