"""Where a project's schedules pile up: ticks per minute over the next hours."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.utils import timezone

from deployments.models import Deployment
from portal.models import Project

# An `@every 1s` deployment ticks 86,400 times a day; that is enough to say it dominates.
MAX_TICKS_PER_DEPLOYMENT = 100_000


@dataclass
class BusyMinute:
    start: dt.datetime  # UTC, on the minute
    ticks: int
    deployments: list[str] = field(default_factory=list)  # "component / environment"


@dataclass
class PileUp:
    start: dt.datetime
    end: dt.datetime
    total_ticks: int
    deployments: int
    minutes: list[BusyMinute]  # busiest first
    errors: list[str] = field(default_factory=list)

    @property
    def peak(self) -> int:
        return self.minutes[0].ticks if self.minutes else 0


def schedule_pileup(
    *, project: Project, now: dt.datetime | None = None, hours: int = 24, top: int = 20
) -> PileUp:
    """The `top` minutes with the most ticks in the next `hours`, across the project's active
    deployments, from the same schedules beat fires (Deployment.parsed_schedule: H resolved).
    Callers check membership first."""
    start = (now or timezone.now()).astimezone(dt.UTC)
    end = start + dt.timedelta(hours=hours)
    deployments = (
        Deployment.objects.filter(component__project=project, status=Deployment.Status.ACTIVE)
        .select_related("component__project", "environment")
        .order_by("component__name", "environment__order")
    )
    counts: Counter[dt.datetime] = Counter()
    who: dict[dt.datetime, list[str]] = defaultdict(list)
    errors: list[str] = []
    total = 0
    n = 0
    for d in deployments:
        label = f"{d.component.name} / {d.environment.name}"
        try:
            ticks = d.parsed_schedule().ticks_between(
                start, end, d.timezone, limit=MAX_TICKS_PER_DEPLOYMENT
            )
        except Exception as exc:  # noqa: BLE001 - one bad schedule must not hide the others
            errors.append(f"{label}: {exc}")
            continue
        n += 1
        for t in ticks:
            minute = t.replace(second=0, microsecond=0)
            counts[minute] += 1
            if not who[minute] or who[minute][-1] != label:
                who[minute].append(label)
        total += len(ticks)
    busiest = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return PileUp(
        start=start,
        end=end,
        total_ticks=total,
        deployments=n,
        minutes=[BusyMinute(start=m, ticks=c, deployments=who[m]) for m, c in busiest],
        errors=errors,
    )
