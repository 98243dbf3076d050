"""Reads of executions for the HTML views (permission-checked through the project).

Execution lists (this per-component list and observability's project-wide explorer) are paged
by `keyset_page`: by the last row seen, (scheduled_for, id), never by OFFSET, so the
thousandth page costs what the first does and rows arriving meanwhile do not shift pages. The
order matches the indexes on (deployment, -scheduled_for) and (-scheduled_for, -id).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.http import Http404

from components.models import Component
from deployments.models import Environment, Execution, ExecutionLogLine
from portal.models import Membership
from portal.selectors import project_get_for_user

PAGE_SIZE = 50
# One poll of the live log returns at most this many lines; the next poll continues.
LOG_PAGE_LINES = 2000


def execution_get_for_user(*, user, project_slug: str, execution_id: int) -> Execution:
    """The execution if it belongs to a project the user is a member of (404 otherwise)."""
    project = project_get_for_user(user=user, slug=project_slug)
    try:
        execution = Execution.objects.select_related(
            "deployment__component",
            "deployment__environment",
            "build",
            "triggered_by",
            "parent",
        ).get(pk=execution_id, deployment__component__project=project)
    except Execution.DoesNotExist:
        raise Http404("No such execution") from None
    # The project that knows the user's role (portal.selectors): no second membership query.
    execution.deployment.component.project = project
    return execution


def execution_log_lines(
    *, execution: Execution, after: int = 0, limit: int = LOG_PAGE_LINES, level: int | None = None
) -> list[ExecutionLogLine]:
    """Log lines with seq > after, oldest first; only those at `level` or above when given."""
    lines = ExecutionLogLine.objects.filter(execution=execution, seq__gt=after)
    if level is not None:
        lines = lines.filter(level__gte=level)
    return list(lines.order_by("seq")[:limit])


# --- the live log's idle poll -----------------------------------------------------------------
# What the detail page's status and summary show of a run that goes on (templates
# deployments/executions/_status.html, _summary.html), plus the viewer's role (it decides the
# Cancel button). A poll that finds these as the page last drew them (its `state` token) and no
# new line has nothing to swap but the running time: it is answered from one query.
LIVE_FIELDS = (
    "status",
    "cancel_requested",
    "reason",
    "due_at",
    "started_at",
    "finished_at",
    "duration_seconds",
    "fire_lag_seconds",
    "exit_code",
    "worker",
    "container_id",
    "image_ref",
    "image_digest",
    "config_revision",
    "log_bytes",
    "log_truncated",
    "deployment__schedule",
    "deployment__timezone",
    "deployment__max_retries",
    "deployment__config_revision",
    "deployment__component__name",
)


def live_state_token(*, values: Sequence) -> str:
    """A short digest of LIVE_FIELDS' values and the role, for the poller's URL."""
    return hashlib.blake2b(repr(tuple(values)).encode(), digest_size=8).hexdigest()


def execution_live_state(*, execution: Execution, role: str | None) -> str:
    """The token of a loaded execution (select_related deployment and component)."""
    values = []
    for name in LIVE_FIELDS:
        value = execution
        for part in name.split("__"):
            value = getattr(value, part)
        values.append(value)
    return live_state_token(values=[*values, role])


def execution_log_idle(
    *,
    user,
    project_slug: str,
    execution_id: int,
    after: int,
    level: int | None,
    state: str,
) -> dict | None:
    """The run's times if this poll has nothing new for a member, else None.

    One query reads the execution, the user's role in its project and whether a line after
    `after` (at `level` or above) exists. None, and the caller renders the full update with
    every check it always makes, when the user is no member (any more), the run has ended, a
    line arrived, or the status or summary changed since the page drew `state`.
    """
    if not state:
        return None
    if connection.vendor == "postgresql":
        row = _idle_row_sql(user_id=user.pk, project_slug=project_slug,
                            execution_id=execution_id, after=after, level=level)  # fmt: skip
    else:
        row = _idle_row_orm(user_id=user.pk, project_slug=project_slug,
                            execution_id=execution_id, after=after, level=level)  # fmt: skip
    if (
        row is None
        or row["viewer_role"] is None
        or row["new_lines"]
        or row["status"] in Execution.FINISHED
    ):
        return None
    token = live_state_token(values=[*(row[name] for name in LIVE_FIELDS), row["viewer_role"]])
    return row if token == state else None


def _idle_row_orm(*, user_id, project_slug, execution_id, after, level) -> dict | None:
    lines = ExecutionLogLine.objects.filter(execution=OuterRef("pk"), seq__gt=after)
    if level is not None:
        lines = lines.filter(level__gte=level)
    role = (
        Membership.objects.filter(
            project=OuterRef("deployment__component__project"), user_id=user_id
        )
        .order_by()
        .values("role")[:1]
    )
    rows = list(
        Execution.objects.filter(pk=execution_id, deployment__component__project__slug=project_slug)
        .annotate(viewer_role=Subquery(role), new_lines=Exists(lines))
        .values("pk", *LIVE_FIELDS, "viewer_role", "new_lines")
        .order_by()[:1]
    )
    return rows[0] if rows else None


@functools.cache
def _idle_sql(with_level: bool) -> str:
    """_idle_row_orm's query written out once: building it through the ORM on every poll cost
    more CPU than everything else the poll does (a page polls every second)."""
    from components.models import Component
    from deployments.models import Deployment
    from portal.models import Project

    tables = {"e": Execution, "d": Deployment, "c": Component}
    columns = []
    for name in LIVE_FIELDS:
        *path, field = name.split("__")
        alias = "edc"[len(path)]  # execution, deployment, component
        column = tables[alias]._meta.get_field(field).column
        columns.append(f'{alias}."{column}"')
    level = ' AND l."level" >= %s' if with_level else ""
    return f"""
        SELECT e."id", {", ".join(columns)},
            (SELECT m."role" FROM "{Membership._meta.db_table}" m
             WHERE m."project_id" = c."project_id" AND m."user_id" = %s LIMIT 1),
            EXISTS (SELECT 1 FROM "{ExecutionLogLine._meta.db_table}" l
                    WHERE l."execution_id" = e."id" AND l."seq" > %s{level})
        FROM "{Execution._meta.db_table}" e
        JOIN "{Deployment._meta.db_table}" d ON d."id" = e."deployment_id"
        JOIN "{Component._meta.db_table}" c ON c."id" = d."component_id"
        JOIN "{Project._meta.db_table}" p ON p."id" = c."project_id"
        WHERE e."id" = %s AND p."slug" = %s
    """


def _idle_row_sql(*, user_id, project_slug, execution_id, after, level) -> dict | None:
    params = [user_id, after, *([level] if level is not None else []), execution_id, project_slug]
    with connection.cursor() as cur:
        cur.execute(_idle_sql(level is not None), params)
        found = cur.fetchone()
    if found is None:
        return None
    names = ("pk", *LIVE_FIELDS, "viewer_role", "new_lines")
    return dict(zip(names, found, strict=True))


def execution_family(*, execution: Execution) -> list[Execution]:
    """The other attempts of the same tick (retries), oldest first."""
    return list(
        Execution.objects.filter(
            deployment_id=execution.deployment_id, scheduled_for=execution.scheduled_for
        )
        .exclude(pk=execution.pk)
        .order_by("attempt")
    )


# --- the list ---------------------------------------------------------------------------------
@dataclass
class Filters:
    env: str = ""
    status: str = ""
    trigger: str = ""
    date: dt.date | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return bool(self.env or self.status or self.trigger or self.date)


def parse_filters(params) -> Filters:
    """Filters from the query string; an unknown value is dropped with a message, not a 500."""
    f = Filters()
    env = (params.get("env") or "").strip()
    if env:
        if Environment.objects.filter(slug=env).exists():
            f.env = env
        else:
            f.errors.append(f'Unknown environment "{env[:30]}".')
    status = params.get("status") or ""
    if status:
        if status in Execution.Status.values:
            f.status = status
        else:
            f.errors.append(f'Unknown status "{status[:30]}".')
    trigger = params.get("trigger") or ""
    if trigger:
        if trigger in Execution.Trigger.values:
            f.trigger = trigger
        else:
            f.errors.append(f'Unknown trigger "{trigger[:30]}".')
    date = (params.get("date") or "").strip()
    if date:
        try:
            f.date = dt.date.fromisoformat(date)
        except ValueError:
            f.errors.append(f'"{date[:30]}" is not a date; use YYYY-MM-DD.')
    return f


def encode_cursor(when: dt.datetime, pk: int) -> str:
    raw = f"{when.astimezone(dt.UTC).isoformat()}|{pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[dt.datetime, int] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, pk = raw.split("|")
        parsed = dt.datetime.fromisoformat(when)
        if parsed.tzinfo is None:
            return None
        return parsed, int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


@dataclass
class Page:
    rows: list[Execution]
    older: str | None  # cursor of the next (older) page
    newer: str | None  # cursor of the previous (newer) page
    first: bool  # the newest page (auto-refreshes)


def keyset_page(
    qs: QuerySet[Execution], *, after: str | None, before: str | None, limit: int
) -> Page:
    """One page of `qs`, newest first: older than `after`, or the page just newer than `before`.

    A cursor that does not decode (tampered, or a naive time) reads as none: the newest page.
    """
    back = decode_cursor(before)
    forward = decode_cursor(after)
    if back:
        when, pk = back
        # The redundant >= lets PostgreSQL seek the index instead of filtering from its top.
        qs = qs.filter(scheduled_for__gte=when).filter(
            Q(scheduled_for__gt=when) | Q(scheduled_for=when, id__gt=pk)
        )
        rows = list(qs.order_by("scheduled_for", "id")[: limit + 1])
        more_newer = len(rows) > limit
        rows = rows[:limit]
        rows.reverse()
        older = encode_cursor(rows[-1].scheduled_for, rows[-1].pk) if rows else None
        newer = encode_cursor(rows[0].scheduled_for, rows[0].pk) if rows and more_newer else None
        return Page(rows, older, newer, first=not more_newer)
    if forward:
        when, pk = forward
        qs = qs.filter(scheduled_for__lte=when).filter(
            Q(scheduled_for__lt=when) | Q(scheduled_for=when, id__lt=pk)
        )
    rows = list(qs.order_by("-scheduled_for", "-id")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    older = encode_cursor(rows[-1].scheduled_for, rows[-1].pk) if rows and more else None
    newer = encode_cursor(rows[0].scheduled_for, rows[0].pk) if rows and forward else None
    return Page(rows, older, newer, first=forward is None)


def _filtered(component: Component, f: Filters) -> QuerySet[Execution]:
    qs = Execution.objects.filter(deployment__component=component)
    if f.env:
        qs = qs.filter(deployment__environment__slug=f.env)
    if f.status:
        qs = qs.filter(status__in=Execution.FAILURES if f.status == "failed" else [f.status])
    if f.trigger:
        qs = qs.filter(trigger=f.trigger)
    if f.date:
        start = dt.datetime.combine(f.date, dt.time(), tzinfo=dt.UTC)
        qs = qs.filter(scheduled_for__gte=start, scheduled_for__lt=start + dt.timedelta(days=1))
    return qs.select_related("deployment__environment", "triggered_by")


def executions_page(
    *,
    component: Component,
    filters: Filters,
    after: str | None = None,
    before: str | None = None,
    limit: int = PAGE_SIZE,
) -> Page:
    """One page of the component's executions, newest first. Callers check membership."""
    return keyset_page(_filtered(component, filters), after=after, before=before, limit=limit)
