from __future__ import annotations

from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "observability"

    def ready(self) -> None:
        from celery.signals import worker_ready, worker_shutdown

        from .heartbeats import worker_started, worker_stopping

        # Workers check in while they run (observability/heartbeats.py).
        worker_ready.connect(worker_started, weak=False, dispatch_uid="chorus-heartbeat-start")
        worker_shutdown.connect(worker_stopping, weak=False, dispatch_uid="chorus-heartbeat-stop")
