"""What the reconciler and the image clean-up ask of the engine: find, stop, remove."""

from __future__ import annotations

from collections.abc import Mapping

import docker
import docker.errors
import requests

from deployments.runtimes.base import ImageInUse, ImageRemoveError, RunningTask, RuntimeUnavailable
from deployments.runtimes.docker.connection import API_TIMEOUT, MANAGED_LABEL, DockerConnection


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
