"""What every Docker run's start shares in a worker process: a few start slots per engine, and
the configuration of the images it runs (entrypoint, command, user), read once."""

from __future__ import annotations

import threading

_lock = threading.Lock()

# Containers being created and started at once, per engine and worker process: the engine
# starts them one after the other anyway, and a hundred threads asking at once only make its
# answers (even the first `/version`) late enough to fail (CHORUS_DOCKER_START_PARALLEL).
_slots: dict[str, threading.BoundedSemaphore] = {}


def start_slot(where: str) -> threading.BoundedSemaphore:
    from django.conf import settings

    with _lock:
        slot = _slots.get(where)
        if slot is None:
            slot = _slots[where] = threading.BoundedSemaphore(
                max(1, int(getattr(settings, "CHORUS_DOCKER_START_PARALLEL", 4)))
            )
        return slot


# Image configs by (engine, immutable reference): an image id or digest never changes.
_configs: dict[tuple[str, str], dict] = {}


def image_config(api, where: str, image: str) -> dict:
    key = (where, image)
    with _lock:
        hit = _configs.get(key)
    if hit is None:
        hit = api.inspect_image(image).get("Config") or {}
        if not (image.startswith("sha256:") or "@sha256:" in image):
            return hit  # a tag may move: never kept
        with _lock:
            if len(_configs) > 1000:
                _configs.clear()
            _configs[key] = hit
    return hit
