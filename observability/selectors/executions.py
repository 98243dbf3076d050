"""The project-wide executions explorer: filters, log search and keyset pagination.

Pages are addressed by the last row seen, (scheduled_for, id), never by OFFSET, through the
same `keyset_page` as the per-component list (deployments/executions/selectors.py).

Log search (`q`) is a semi-join on execution log lines, bounded to the filtered time window
(the last 7 days when none is given). On PostgreSQL a trigram index over UPPER(text)
(observability migration 0002) answers Django's `icontains`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.utils import timezone

from deployments.executions.selectors import keyset_page
from deployments.loglevels import ERROR
from deployments.models import Deployment, Execution, ExecutionLogLine
from portal.models import Project

from .dashboard import parse_point

PAGE_SIZE = 50
SEARCH_DEFAULT_WINDOW = dt.timedelta(days=7)
MIN_SEARCH = 3


@dataclass
class Filters:
    status: list[str] = field(default_factory=list)
    env: str = ""
    trigger: str = ""
    component: str = ""
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    q: str = ""
    # Only executions with error lines (stderr, or a JSON line of level error or above); with
    # `q`, the text must be on such a line.
    errors_only: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def searches_logs(self) -> bool:
        return bool(self.q) or self.errors_only

    @property
    def search_window_defaulted(self) -> bool:
        return self.searches_logs and self.start is None


def parse_filters(params) -> Filters:
    """Filters from a QueryDict; bad values are dropped with a message instead of a 500."""
    f = Filters()
    statuses = []
    for s in params.getlist("status"):
        statuses += [x for x in s.split(",") if x]
    f.status = [s for s in statuses if s in Execution.Status.values]
    f.env = (params.get("env") or "").strip()
    f.trigger = params.get("trigger") or ""
    if f.trigger not in Execution.Trigger.values:
        f.trigger = ""
    f.component = (params.get("component") or "").strip()
    for name in ("from", "to"):
        raw = params.get(name)
        if raw:
            try:
                value = parse_point(raw, end=name == "to")
            except ValidationError as exc:
                f.errors.append(f"{name}: {exc.messages[0]}")
                continue
            setattr(f, "start" if name == "from" else "end", value)
    f.errors_only = params.get("errors") in ("1", "on", "true")
    f.q = (params.get("q") or "").strip()[:200]
    if f.q and len(f.q) < MIN_SEARCH:
        f.errors.append(f"Search needs at least {MIN_SEARCH} characters.")
        f.q = ""
    return f


@dataclass
class Page:
    rows: list[Execution]
    older: str | None  # cursor for the next (older) page
    newer: str | None  # cursor for the previous (newer) page
    filters: Filters


def executions_page(
    *,
    project: Project,
    filters: Filters,
    after: str | None = None,
    before: str | None = None,
    limit: int = PAGE_SIZE,
    now: dt.datetime | None = None,
) -> Page:
    """Callers check membership first; this only reads the project's executions."""
    deployments = Deployment.objects.filter(component__project=project)
    if filters.component:
        deployments = deployments.filter(component__name=filters.component)
    if filters.env:
        deployments = deployments.filter(environment__slug=filters.env)
    deployment_ids = list(deployments.values_list("id", flat=True))
    if not deployment_ids:
        return Page([], None, None, filters)

    qs = Execution.objects.filter(deployment_id__in=deployment_ids)
    if filters.status:
        qs = qs.filter(status__in=filters.status)
    if filters.trigger:
        qs = qs.filter(trigger=filters.trigger)
    start = filters.start
    if filters.searches_logs and start is None:
        start = (now or timezone.now()) - SEARCH_DEFAULT_WINDOW
    if start is not None:
        qs = qs.filter(scheduled_for__gte=start)
    if filters.end is not None:
        qs = qs.filter(scheduled_for__lt=filters.end)
    if filters.searches_logs:
        lines = ExecutionLogLine.objects.filter(execution_id=OuterRef("pk"))
        if filters.q:
            lines = lines.filter(text__icontains=filters.q)
        if filters.errors_only:
            lines = lines.filter(level__gte=ERROR)
        qs = qs.filter(Exists(lines))

    qs = qs.select_related("deployment__component", "deployment__environment")
    page = keyset_page(qs, after=after, before=before, limit=limit)
    return Page(page.rows, page.older, page.newer, filters)
