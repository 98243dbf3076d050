"""The Celery application: configured from Django settings (CELERY_* names)."""

from __future__ import annotations

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

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
