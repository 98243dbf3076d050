"""Periodic tasks of observability (plain data: portal/settings.py imports this)."""

from __future__ import annotations

# Merged into CELERY_BEAT_SCHEDULE by portal/settings.py (django-celery-beat's
# DatabaseScheduler copies it into its tables when beat starts).
BEAT_SCHEDULE = {
    "chorus.observability.recompute_recent": {
        "task": "chorus.observability.recompute_recent",
        "schedule": 300.0,
        "options": {"queue": "chorus"},
    },
    "chorus.observability.cleanup": {
        "task": "chorus.observability.cleanup",
        "schedule": 3600.0,
        "options": {"queue": "chorus"},
    },
    "chorus.observability.check_alerts": {
        "task": "chorus.observability.check_alerts",
        "schedule": 60.0,
        "options": {"queue": "chorus"},
    },
}
