"""Template helpers for schedules, usable by any page that shows a deployment.

{% load chorus_deploy %}
{{ deployment|schedule_words }}                   -> "Every 10 minutes" (H resolved for it)
{{ deployment|next_run_text }}                    -> "Mon 30 Mar 2026 02:30 CEST (00:30 UTC)"
"""

from __future__ import annotations

from functools import cache

from django import template
from django.core.exceptions import ValidationError

from deployments.schedules.parsing import describe
from deployments.schedules.preview import next_runs
from deployments.schedules.timezones import known_timezones

register = template.Library()


@cache
def _sorted_zones() -> tuple[str, ...]:
    return tuple(sorted(known_timezones()))


@register.filter
def timezone_names(_unused="") -> tuple[str, ...]:
    return _sorted_zones()


@register.filter
def schedule_words(expr) -> str:
    """Words for a schedule string, or for a deployment's schedule (its `H` resolved)."""
    try:
        if hasattr(expr, "parsed_schedule"):
            return expr.parsed_schedule().describe()
        return describe(expr)
    except ValidationError:
        return ""


@register.filter
def next_run_text(deployment) -> str:
    """The next tick of a live deployment in its timezone and in UTC ("" if none)."""
    if deployment is None or getattr(deployment, "display_status", "") in ("undeployed", "done"):
        return ""
    try:
        runs = next_runs(deployment.parsed_schedule(), deployment.timezone, n=1)
    except ValidationError:
        return ""
    if not runs:
        return ""  # a one-off deployment that has run
    run = runs[0]
    text = f"{run.at_local:%a %d %b %Y %H:%M} {run.at_local.tzname()} ({run.at_utc:%H:%M} UTC)"
    return f"{text} — {run.dst_note}" if run.dst_note else text
