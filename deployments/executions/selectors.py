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
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.http import Http404

from components.models import Component
from deployments.models import Environment, Execution, ExecutionLogLine
from portal.selectors import project_get_for_user

PAGE_SIZE = 50
# One poll of the live log returns at most this many lines; the next poll continues.
LOG_PAGE_LINES = 2000


def execution_get_for_user(*, user, project_slug: str, execution_id: int) -> Execution:
    """The execution if it belongs to a project the user is a member of (404 otherwise)."""
    project = project_get_for_user(user=user, slug=project_slug)
    try:
        return Execution.objects.select_related(
            "deployment__component__project",
            "deployment__environment",
            "build",
            "triggered_by",
            "parent",
        ).get(pk=execution_id, deployment__component__project=project)
    except Execution.DoesNotExist:
        raise Http404("No such execution") from None


def execution_log_lines(
    *, execution: Execution, after: int = 0, limit: int = LOG_PAGE_LINES, level: int | None = None
) -> list[ExecutionLogLine]:
    """Log lines with seq > after, oldest first; only those at `level` or above when given."""
    lines = ExecutionLogLine.objects.filter(execution=execution, seq__gt=after)
    if level is not None:
        lines = lines.filter(level__gte=level)
    return list(lines.order_by("seq")[:limit])


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
