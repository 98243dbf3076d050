"""The project-wide executions explorer: filters, log search and keyset pagination.

Pages are addressed by the last row seen, (scheduled_for, id), never by OFFSET, through the
same `keyset_page` as the per-component list (deployments/executions/selectors.py).

A page's rows are plain tuples (`ExplorerRow`) of the columns the table shows, with the
component and environment names taken from the one query that lists the project's components
and their deployments (which also fills the filter's component list): fifty model instances
with their deployment, component and environment cost more than the query.

Log search (`q`) is a semi-join on execution log lines, bounded to the filtered time window
(the last 7 days when none is given). On PostgreSQL a trigram index over UPPER(text)
(observability migration 0002) answers Django's `icontains`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.utils import timezone

from components.models import Component
from deployments.executions.selectors import keyset_page
from deployments.loglevels import ERROR
from deployments.models import Execution, ExecutionLogLine
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


class ExplorerRow(NamedTuple):
    """One row of the explorer's table."""

    pk: int
    scheduled_for: dt.datetime
    status: str
    reason: str
    trigger: str
    attempt: int
    duration_seconds: float | None
    fire_lag_seconds: float | None
    component: str  # the component's name
    environment: str  # the environment's name


ROW_FIELDS = (
    "pk",
    "scheduled_for",
    "status",
    "reason",
    "trigger",
    "attempt",
    "duration_seconds",
    "fire_lag_seconds",
    "deployment_id",
)


@dataclass
class Page:
    rows: list[ExplorerRow]
    older: str | None  # cursor for the next (older) page
    newer: str | None  # cursor for the previous (newer) page
    filters: Filters
    components: list[str]  # names of all the project's components, for the filter's list


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
    # One query for the filter's component list and the deployments (ids and names) to read.
    components: list[str] = []
    names: dict[int, tuple[str, str]] = {}
    for component, pk, env_slug, env_name in (
        Component.objects.filter(project=project)
        .order_by("name")
        .values_list(
            "name",
            "deployments__id",
            "deployments__environment__slug",
            "deployments__environment__name",
        )
    ):
        if not components or components[-1] != component:
            components.append(component)
        if (
            pk is not None
            and (not filters.component or component == filters.component)
            and (not filters.env or env_slug == filters.env)
        ):
            names[pk] = (component, env_name)
    if not names:
        return Page([], None, None, filters, components)

    # Conditions gathered into one filter(): each filter() clones the query.
    where = {"deployment_id__in": list(names)}
    if filters.status:
        where["status__in"] = filters.status
    if filters.trigger:
        where["trigger"] = filters.trigger
    start = filters.start
    if filters.searches_logs and start is None:
        start = (now or timezone.now()) - SEARCH_DEFAULT_WINDOW
    if start is not None:
        where["scheduled_for__gte"] = start
    if filters.end is not None:
        where["scheduled_for__lt"] = filters.end
    has_lines = []
    if filters.searches_logs:
        line_where: dict = {"execution_id": OuterRef("pk")}
        if filters.q:
            line_where["text__icontains"] = filters.q
        if filters.errors_only:
            line_where["level__gte"] = ERROR
        has_lines.append(Exists(ExecutionLogLine.objects.filter(**line_where)))
    qs = Execution.objects.filter(*has_lines, **where)

    page = keyset_page(
        qs.values_list(*ROW_FIELDS, named=True), after=after, before=before, limit=limit
    )
    rows = [ExplorerRow(*r[:-1], *names[r.deployment_id]) for r in page.rows]
    return Page(rows, page.older, page.newer, filters, components)
