"""Small formatting filters and tags for the observability templates."""

from __future__ import annotations

import datetime as dt
import html
import re
from functools import lru_cache

from django import template
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.timezone import localtime

from deployments.models import Execution

register = template.Library()


@register.filter
def obs_pct(value) -> str:
    return "—" if value is None else f"{value:.1f}%".replace(".0%", "%")


@register.filter
def obs_secs(value) -> str:
    """Seconds, readable: 0.042 s, 3.2 s, 4m 10s, 1h 5m."""
    if value is None:
        return "—"
    v = float(value)
    if v < 10:
        return f"{v:.3g} s"
    if v < 60:
        return f"{v:.0f} s"
    if v < 3600:
        return f"{int(v // 60)}m {int(v % 60)}s"
    return f"{int(v // 3600)}h {int((v % 3600) // 60)}m"


@register.filter
def obs_until(when) -> str:
    """How long until `when`: "in 4 s" under a minute (timeuntil would say "0 minutes"), else
    Django's "in 3 hours, 5 minutes"."""
    from django.utils.timesince import timeuntil

    seconds = (when - timezone.now()).total_seconds()
    if seconds < 1:
        return "now"
    if seconds < 60:
        return f"in {int(seconds)} s"
    return f"in {timeuntil(when)}"


@register.filter
def obs_bucket_words(delta: dt.timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    if hours == 1:
        return "hour"
    if hours % 24 == 0:
        days = hours // 24
        return "day" if days == 1 else f"{days} days"
    return f"{hours} hours"


@register.filter
def obs_status(value: str) -> str:
    return (value or "").replace("_", " ")


# What django.utils.html.escape does, without wrapping each piece in a SafeString (formatting a
# SafeString into an f-string goes through its __str__): the row is marked safe once, whole.
_escape = html.escape


# Statuses come from a short fixed list: escape each once per process, not once per slot.
@lru_cache(maxsize=64)
def _status_html(status: str) -> tuple[str, str]:
    """(the status as a class, the status in words), both escaped."""
    return _escape(status), _escape(obs_status(status))


def _strip_html(slots) -> str:
    """The per-tick status strip: dozens of rows x 30 slots, so plain string building."""
    if not slots:
        return '<span class="muted">no runs yet</span>'
    out = []
    for s in slots:
        css, words = _status_html(s.status)
        retry = f", attempt {s.attempt}" if s.attempt > 1 else ""
        # The time is digits and punctuation (Slot.when): nothing in it to escape.
        out.append(f'<i class="{css}" title="{s.when[:19]} UTC: {words}{retry}"></i>')
    return "".join(out)


# Component names (components.models.component_name_validator) need no quoting in a URL path.
_URL_SAFE_NAME = re.compile(r"^[a-z0-9-]+$")


@register.simple_tag
def obs_overview_rows(rows, project_slug: str) -> str:
    """The rows of the overview's #deployed-tasks (observability.selectors.overview), built in
    Python: fifty rows through the template language (url tags, filters, lookups) cost more
    than everything else on the page. The markup is what a template loop would write, escaped
    the same way; one reverse() per table, not one per row."""
    marker = "component-name"  # a valid component name, so reverse() accepts it
    dashboard = reverse("obs_dashboard", args=[project_slug, marker])
    head, _, tail = dashboard.rpartition(f"/{marker}/")
    executions = f"/p/{_escape(project_slug)}/executions/"
    out = []
    for row in rows:
        name = row.component_name
        if _URL_SAFE_NAME.match(name):  # what reverse() would quote, and escaping change: none
            href = f"{head}/{name}/{tail}"
        else:
            href = reverse("obs_dashboard", args=[project_slug, name])
        href = f"{_escape(href)}?env={_escape(row.environment_slug)}"
        suspended = "" if row.is_active else ' <span class="badge badge-suspended">suspended</span>'
        zone = _escape(row.timezone)
        zone_words = "" if row.timezone == "UTC" else f' <span class="muted">({zone})</span>'
        last = row.last
        if last is not None:
            when = last.scheduled_for
            iso = _escape(timezone.localtime(when).isoformat())
            css, words = _status_html(last.status)
            last_html = (
                f'<a href="{executions}{last.execution_id}/"><span class="badge badge-{css}">'
                f"{words}</span></a>\n"
                f'        <span class="muted" title="{iso}">{_escape(naturaltime(when))}</span>'
            )
        else:
            last_html = '<span class="muted">never</span>'
        if row.next_run is not None:
            next_html = (
                f'<span title="{_escape(timezone.localtime(row.next_run).isoformat())}">'
                f"{_escape(obs_until(row.next_run))}</span>"
            )
        else:
            next_html = '<span class="muted">—</span>'
        missed = f", {row.missed_7d} missed" if row.missed_7d else ""
        out.append(
            f'\n  <tr data-deployment="{row.deployment_id}">\n'
            f'    <td><a href="{href}">{_escape(name)}</a></td>\n'
            f"    <td>{_escape(row.environment_name)}{suspended}</td>\n"
            f'    <td title="{_escape(row.schedule)} ({zone})">{_escape(row.schedule_words)}'
            f"{zone_words}</td>\n"
            f"    <td>{last_html}</td>\n"
            f"    <td>{next_html}</td>\n"
            f'    <td class="num" title="{row.succeeded_7d} succeeded, {row.failed_7d} failed'
            f'{missed}">{_escape(obs_pct(row.success_rate_7d))}</td>\n'
            f'    <td><span class="strip" aria-label="Last {len(row.strip)} ticks, oldest first">'
            f"{_strip_html(row.strip)}</span></td>\n"
            "  </tr>\n  "
        )
    return mark_safe("".join(out))  # noqa: S308 - every value is escaped right here


@register.simple_tag
def obs_bucket_rows(buckets, series) -> str:
    """The dashboard table's body rows, built in Python: a 30-bucket table is ~400 cells, too
    many template-loop iterations for a fragment that refreshes every 10 seconds."""
    keys = [(key, escape(key)) for key, _label in series]
    return mark_safe(  # noqa: S308 - keys are escaped, everything else is a formatted number
        "".join(
            f'<tr data-start="{start.isoformat()}">\n'
            f'      <th scope="row">{start:%b %d %H:%M}</th>\n'
            f"      {_bucket_cells(b, keys)}\n"
            "    </tr>"
            for b in buckets
            for start in (timezone.localtime(b.start),)
        )
    )


@register.simple_tag
def obs_bucket_cells(bucket, series) -> str:
    """One bucket's cells in the dashboard table: counts per series, success rate, p50/p95."""
    keys = [(key, escape(key)) for key, _label in series]
    return mark_safe(_bucket_cells(bucket, keys))  # noqa: S308 - as in obs_bucket_rows


def _bucket_cells(bucket, keys: list[tuple[str, str]]) -> str:
    counts = bucket.counts
    cells = "".join(
        f'<td class="num" data-series="{html_key}">{int(counts.get(key, 0))}</td>'
        for key, html_key in keys
    )
    return (
        f"{cells}\n"
        f'      <td class="num">{obs_pct(bucket.success_rate)}</td>\n'
        f'      <td class="num">{obs_secs(bucket.duration_p50)}</td>'
        f'<td class="num">{obs_secs(bucket.duration_p95)}</td>\n'
        f'      <td class="num">{obs_secs(bucket.lag_p50)}</td>'
        f'<td class="num">{obs_secs(bucket.lag_p95)}</td>'
    )


@register.simple_tag
def obs_execution_rows(rows, project_slug: str) -> str:
    """The explorer's table rows (observability/selectors/executions.py `ExplorerRow`), built in
    Python: fifty rows of nine cells through the template engine cost more than the queries.

    The cells a page repeats (a deployment's component and environment, a status, a trigger)
    are built once per page.
    """
    slug = escape(project_slug)
    triggers = {value: escape(label) for value, label in Execution.Trigger.choices}
    deployment_cells: dict[tuple[str, str], str] = {}
    status_badges: dict[str, str] = {}
    out = []
    for e in rows:
        deployment = deployment_cells.get((e.component, e.environment))
        if deployment is None:
            url = reverse("component_detail", args=[project_slug, e.component])
            deployment = deployment_cells[e.component, e.environment] = (
                f'    <td><a href="{escape(url)}">{escape(e.component)}</a></td>\n'
                f"    <td>{escape(e.environment)}</td>\n"
            )
        badge = status_badges.get(e.status)
        if badge is None:
            badge = status_badges[e.status] = (
                f'<span class="badge badge-{escape(e.status)}">{escape(obs_status(e.status))}</span>'
            )
        reason = ""
        if e.reason:
            # truncatechars:60, without its Unicode pass for the usual short ASCII reason.
            short = (
                e.reason
                if len(e.reason) <= 60 and e.reason.isascii()
                else Truncator(e.reason).chars(60)
            )
            reason = f' <span class="muted">{escape(short)}</span>'
        trigger = triggers.get(e.trigger)
        if trigger is None:
            trigger = escape(e.trigger)
        out.append(
            f'\n  <tr data-execution="{e.pk}">\n'
            f'    <td><a href="/p/{slug}/executions/{e.pk}/">#{e.pk}</a></td>\n'
            # Y-m-d H:i:s in the current time zone (the `date` filter's), without strftime.
            f"    <td>{localtime(e.scheduled_for).isoformat(' ')[:19]}</td>\n"
            f"{deployment}"
            f"    <td>{badge}{reason}</td>\n"
            f"    <td>{trigger}</td>\n"
            f'    <td class="num">{e.attempt}</td>\n'
            f'    <td class="num">{obs_secs(e.duration_seconds)}</td>\n'
            f'    <td class="num">{obs_secs(e.fire_lag_seconds)}</td>\n'
            "  </tr>\n  "
        )
    return mark_safe("".join(out))  # noqa: S308 - every value is escaped right here


@register.simple_tag
def obs_options(choices, selected) -> str:
    """`<option>`s of (value, label) pairs, `selected` marked: a filter form's lists, without a
    template loop over every component."""
    return mark_safe(  # noqa: S308 - every value is escaped right here
        "".join(
            f'<option value="{escape(value)}"{" selected" if value == selected else ""}>'
            f"{escape(label)}</option>"
            for value, label in choices
        )
    )
