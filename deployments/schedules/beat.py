"""The django-celery-beat rows (Crontab / Interval / ClockedSchedule) for a schedule."""

from __future__ import annotations

import re
from datetime import tzinfo

from croniter import croniter

from deployments.schedules.schedule import Schedule
from deployments.schedules.timezones import get_zone


def _beat_field(index: int, value: str, expanded: list) -> str:
    plain = re.fullmatch(r"[\d*/,-]+", value) is not None
    # Celery's day-of-week is 0-6 (Sunday=0); cron also allows 7 for Sunday.
    if plain and not (index == 4 and "7" in value):
        return value
    if expanded == ["*"]:
        return "*"
    return ",".join(
        str(v) for v in sorted({int(v) % 7 if index == 4 else int(v) for v in expanded})
    )


def to_beat_schedule(schedule: Schedule, tz: str | tzinfo = "UTC"):
    """The django-celery-beat schedule row for `schedule` (get_or_create).

    Returns a CrontabSchedule (with `timezone`) for cron and macros, an IntervalSchedule
    (period in seconds) for `@every`, a ClockedSchedule (the UTC instant) for `@at`.
    """
    from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule

    if schedule.is_once:
        row, _ = ClockedSchedule.objects.get_or_create(clocked_time=schedule.instant(tz))
        return row
    if schedule.is_interval:
        row, _ = IntervalSchedule.objects.get_or_create(
            every=schedule.interval_seconds, period=IntervalSchedule.SECONDS
        )
        return row
    zone = get_zone(tz)
    fields = schedule.cron.split(" ")
    expanded = croniter(schedule.cron).expanded
    minute, hour, dom, month, dow = (_beat_field(i, f, expanded[i]) for i, f in enumerate(fields))
    row = CrontabSchedule.objects.filter(
        minute=minute,
        hour=hour,
        day_of_month=dom,
        month_of_year=month,
        day_of_week=dow,
        timezone=str(zone),
    ).first()
    if row is None:
        row = CrontabSchedule.objects.create(
            minute=minute,
            hour=hour,
            day_of_month=dom,
            month_of_year=month,
            day_of_week=dow,
            timezone=zone,
        )
    return row
