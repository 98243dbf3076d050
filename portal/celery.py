"""The Celery application: configured from Django settings (CELERY_* names)."""

from __future__ import annotations

import functools
import logging
import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

logger = logging.getLogger(__name__)


def _survive_a_broker_restart() -> None:
    """Keep a worker alive when Redis restarts under it (Celery/kombu 5.7).

    On a lost connection the consumer first collects the connection (its channel's
    `connection.client` becomes None), then closes it; closing gives the channel's unacked
    messages back, which builds a new Redis client from that None and raises AttributeError,
    which `ignore_errors` does not ignore: "Unrecoverable error", the worker exits. A task that
    was running on the old channel meets the same when it acknowledges its message after the
    reconnect. On a channel whose connection is gone these steps are skipped: its messages
    stay in Redis's unacked set and come back after the visibility timeout (the claim makes a
    second delivery harmless), and ticks among them are sent again by the reconciler long
    before (deployments/executions/reconcile.py).
    """
    from celery.worker.consumer import consumer
    from kombu.transport import redis as kombu_redis

    def gone(qos) -> bool:
        connection = getattr(qos.channel, "connection", None)
        return connection is None or getattr(connection, "client", None) is None

    def guarded(method):
        @functools.wraps(method)
        def call(self, *args, **kwargs):
            if gone(self):
                logger.warning(
                    "broker connection gone: %s skipped on its old channel", method.__name__
                )
                return None
            return method(self, *args, **kwargs)

        call.chorus_guarded = True
        return call

    for name in ("ack", "reject", "restore_unacked"):
        method = getattr(kombu_redis.QoS, name)
        if not getattr(method, "chorus_guarded", False):
            setattr(kombu_redis.QoS, name, guarded(method))

    ignore_errors = consumer.ignore_errors
    if getattr(ignore_errors, "chorus_guarded", False):
        return

    def ignore_more_errors(conn, fun=None, *args, **kwargs):
        if fun is None:
            return ignore_errors(conn)
        try:
            return ignore_errors(conn, fun, *args, **kwargs)
        except AttributeError:  # a collected connection closed again (see above)
            logger.warning("broker connection gone: closing it failed", exc_info=True)
            return None

    ignore_more_errors.chorus_guarded = True
    consumer.ignore_errors = ignore_more_errors


_survive_a_broker_restart()

app = Celery("chorus")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_postrun.connect
def close_broken_connections(**kwargs) -> None:
    """After every task, close this thread's database connections that an error left unusable
    (the server restarted): the next task connects again instead of failing on them. Celery's
    own clean-up closes them only every CELERY_DB_REUSE_MAX tasks; Django does this per request."""
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        conn.close_if_unusable_or_obsolete()
