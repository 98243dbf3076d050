"""Rebuild hourly rollups from raw executions, e.g. after an upgrade or a restore.

    python manage.py rollups_rebuild --days 30

Safe to run at any time: rollups only ever grow to what the raw rows show (see
observability/services/rollups.py), so running it twice or alongside the workers is harmless.
"""

from __future__ import annotations

import datetime as dt
import time

from django.core.management.base import BaseCommand
from django.utils import timezone

from observability.services.rollups import rollup_recompute_range


class Command(BaseCommand):
    help = "Recompute hourly rollups of the last N days from raw executions."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=30, help="how far back (default 30)")

    def handle(self, *args, days: int, **options):
        started = time.perf_counter()
        changed = rollup_recompute_range(start=timezone.now() - dt.timedelta(days=days))
        self.stdout.write(
            f"{changed} hourly rollups updated from the last {days} days of executions "
            f"in {time.perf_counter() - started:.1f}s"
        )
