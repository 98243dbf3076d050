"""Images and the registry: push a built image, make sure an engine holds one (pull by digest).

The engine itself speaks to the registry (its own TLS and insecure-registry settings apply);
credentials travel with each push/pull as the SDK's `auth_config`, never stored on the engine.
"""

from __future__ import annotations

import docker
import docker.errors
import requests

from deployments.runtimes.base import ImagePullError, RuntimeUnavailable
from deployments.runtimes.docker.connection import DockerConnection, failure_reason

PUSH_TIMEOUT = 1800.0


class DockerImages(DockerConnection):
    """`push` and `ensure_image`."""

    def has_image(self, ref: str) -> bool:
        client = self.client()
        try:
            client.api.inspect_image(ref)
            return True
        except docker.errors.ImageNotFound:
            return False
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            raise RuntimeUnavailable(self.unreachable_message(exc)) from exc
        finally:
            client.close()

    def push(self, *, image_id: str, repository: str, tag: str, auth: dict | None, log) -> str:
        """Tag `image_id` as repository:tag, push it, return the repository digest "sha256:…".

        Raises ImagePullError (a push failure, in words) or RuntimeUnavailable."""
        client = self.client(timeout=PUSH_TIMEOUT)
        try:
            client.api.tag(image_id, repository, tag=tag)
            log(f"Pushing {repository}:{tag}", "chorus")
            digest, errors = "", []
            for chunk in client.api.push(
                repository, tag=tag, stream=True, decode=True, auth_config=auth
            ):
                if chunk.get("error") or chunk.get("errorDetail"):
                    errors.append(
                        str(chunk.get("error") or chunk["errorDetail"].get("message", "")).strip()
                    )
                aux = chunk.get("aux")
                if isinstance(aux, dict) and str(aux.get("Digest", "")).startswith("sha256:"):
                    digest = str(aux["Digest"])
                if chunk.get("status") and not chunk.get("progressDetail"):
                    log(" ".join(str(chunk[k]) for k in ("id", "status") if chunk.get(k)), "stdout")
            if errors:
                raise ImagePullError(
                    f"Pushing {repository}:{tag} to the registry failed: {errors[-1]}"
                )
            if not digest:
                raise ImagePullError(f"The registry gave no digest for {repository}:{tag}.")
            return digest
        except docker.errors.APIError as exc:
            raise ImagePullError(
                f"Pushing {repository}:{tag} to the registry failed: {exc.explanation or exc}"
            ) from exc
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            raise RuntimeUnavailable(
                f"Lost the connection to the Docker engine at {self.where} while pushing "
                f"({failure_reason(exc, self.ping_timeout)})."
            ) from exc
        finally:
            client.close()

    def ensure_image(self, ref: str, *, auth: dict | None = None) -> bool:
        """Make sure this engine holds `ref` ("<repo>@sha256:…"): pull it by digest unless it
        is there. True when it had to be pulled. Raises ImagePullError, RuntimeUnavailable."""
        if self.has_image(ref):
            return False
        client = self.client(timeout=PUSH_TIMEOUT)
        try:
            errors = []
            for chunk in client.api.pull(ref, stream=True, decode=True, auth_config=auth):
                if chunk.get("error") or chunk.get("errorDetail"):
                    errors.append(
                        str(chunk.get("error") or chunk["errorDetail"].get("message", "")).strip()
                    )
            if errors:
                raise ImagePullError(f"Could not pull {ref} onto {self.where}: {errors[-1]}")
        except docker.errors.APIError as exc:
            raise ImagePullError(
                f"Could not pull {ref} onto {self.where}: {exc.explanation or exc}"
            ) from exc
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            raise RuntimeUnavailable(self.unreachable_message(exc)) from exc
        finally:
            client.close()
        if not self.has_image(ref):
            raise ImagePullError(f"Pulled {ref} but the engine at {self.where} does not show it.")
        return True
