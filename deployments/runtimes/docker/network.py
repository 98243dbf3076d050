"""The network task containers join, and the user they run as.

Tasks never sit on Docker's default bridge. An environment without its own `docker_network`
uses Chorus's network (CHORUS_DOCKER_NETWORK, "chorus-tasks"), created on first use with
inter-container traffic off (`com.docker.network.bridge.enable_icc=false`) and a bridge
interface of the same name, which the host's firewall rules name (scripts/services.sh
`task_network_rules`: nothing arriving from that interface reaches the host's own ports).
A network of that name that lets containers talk to each other is refused, not used.

A task runs as uid:gid 65534 (nobody) unless its image names a numeric non-root uid (kept)
or an owner allowed root for its component.
"""

from __future__ import annotations

import re
import threading

import docker
import docker.errors
import requests

from deployments.runtimes.base import RuntimeUnavailable
from deployments.runtimes.docker.connection import MANAGED_LABEL

NOBODY = "65534:65534"
ICC_OPTION = "com.docker.network.bridge.enable_icc"
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
_NON_ROOT_UID = re.compile(r"^0*[1-9]\d*(:\d+)?$")

_known: set[tuple[str, str]] = set()
_lock = threading.Lock()


def default_network() -> str:
    from django.conf import settings

    return settings.CHORUS_DOCKER_NETWORK


def task_user(config: dict, *, run_as_root: bool) -> str | None:
    """The user to run an image of this `config` (its inspected Config) as: None keeps the
    image's own (root allowed, or a numeric non-root uid), else nobody."""
    if run_as_root:
        return None
    user = config.get("User") or ""
    return None if _NON_ROOT_UID.match(user.strip()) else NOBODY


def ensure_network(api, name: str, *, where: str) -> str:
    """Create Chorus's task network `name` if it is missing; refuse one with ICC on."""
    key = (where, name)
    if key in _known:
        return name
    with _lock:
        try:
            found = [n for n in api.networks(names=[name]) if n.get("Name") == name]
            if not found:
                try:
                    api.create_network(
                        name,
                        driver="bridge",
                        options={ICC_OPTION: "false", BRIDGE_NAME_OPTION: name[:15]},
                        labels={MANAGED_LABEL: "true"},
                        check_duplicate=True,
                    )
                except docker.errors.APIError as exc:
                    if exc.status_code != 409:  # another worker made it first
                        raise
                found = [n for n in api.networks(names=[name]) if n.get("Name") == name]
        except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
            raise RuntimeUnavailable(
                f"Could not prepare the task network “{name}” on the Docker engine at "
                f"{where}: {exc}"
            ) from exc
        options = (found[0].get("Options") or {}) if found else {}
        if options.get(ICC_OPTION) != "false":
            raise RuntimeUnavailable(
                f"The Docker network “{name}” lets containers reach each other "
                f"({ICC_OPTION} is not false). Remove it (Chorus recreates it isolated) or "
                "set CHORUS_DOCKER_NETWORK to another name."
            )
        _known.add(key)
    return name


def forget_network(where: str, name: str) -> None:
    """The network vanished (someone removed it): look again next time."""
    _known.discard((where, name))
