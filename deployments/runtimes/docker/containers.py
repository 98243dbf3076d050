"""What the reconciler and the image clean-up ask of the engine: find, stop, remove."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

import docker
import docker.errors
import requests

from deployments.runtimes.base import (
    ImageInUse,
    ImageRemoveError,
    OutputLine,
    RunningTask,
    RuntimeUnavailable,
)
from deployments.runtimes.docker.connection import API_TIMEOUT, MANAGED_LABEL, DockerConnection


def engine_time(value) -> datetime | None:
    """The engine's RFC 3339 time (nanoseconds, "Z") as an aware datetime; None for its
    zero time ("0001-01-01T00:00:00Z": never started / not finished) or no time at all."""
    text = str(value or "")
    m = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$", text)
    if not m or text.startswith("0001-"):
        return None
    fraction = (m.group(2) or "0")[:6].ljust(6, "0")
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.fromisoformat(f"{m.group(1)}.{fraction}{zone}").astimezone(UTC)


class DockerContainers(DockerConnection):
    """The reconciler's find / stop / remove and the image clean-up's remove_image."""

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
                exit_code = started_at = finished_at = None
                try:
                    state = client.api.inspect_container(c["Id"])["State"]
                    started_at = engine_time(state.get("StartedAt"))
                    if not running:
                        exit_code = state.get("ExitCode")
                        finished_at = engine_time(state.get("FinishedAt"))
                except docker.errors.DockerException:
                    pass
                tasks.append(
                    RunningTask(
                        container_id=c["Id"],
                        labels=dict(c.get("Labels") or {}),
                        running=running,
                        exit_code=exit_code,
                        started_at=started_at,
                        finished_at=finished_at,
                    )
                )
            return tasks
        finally:
            client.close()

    def output(self, container_id: str) -> list[OutputLine]:
        """The container's output as the engine keeps it, merged by the engine's timestamps."""
        client = self.client(timeout=API_TIMEOUT)
        lines: list[OutputLine] = []
        try:
            for stream in ("stdout", "stderr"):
                raw = client.api.logs(
                    container_id,
                    stdout=stream == "stdout",
                    stderr=stream == "stderr",
                    timestamps=True,
                )
                # One line per entry, each starting with its RFC 3339 time and a space; cut
                # as a run cuts its output (LineBuffer: on "\n", without a trailing "\r").
                for entry in raw.decode("utf-8", errors="replace").split("\n"):
                    stamp, _, text = entry.partition(" ")
                    when = engine_time(stamp)
                    if when is not None:
                        lines.append(OutputLine(stream=stream, text=text.rstrip("\r"), ts=when))
        except docker.errors.NotFound:
            return []
        finally:
            client.close()
        epoch = datetime.min.replace(tzinfo=UTC)
        return sorted(lines, key=lambda line: line.ts or epoch)

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
