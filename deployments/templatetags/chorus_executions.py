"""Template helpers for execution pages: `{{ e.fire_lag_seconds|seconds }}`, `{{ e|run_time }}`."""

from __future__ import annotations

import json

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def seconds(value) -> str:
    """0.042 -> "42 ms"; 3.2 -> "3.2 s"; 125 -> "2 min 05 s"; None -> "—"."""
    if value is None or value == "":
        return "—"
    value = float(value)
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value < 1:
        return f"{sign}{value * 1000:.0f} ms"
    if value < 60:
        return f"{sign}{value:.1f} s"
    minutes, secs = divmod(int(round(value)), 60)
    if minutes < 60:
        return f"{sign}{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{sign}{hours} h {minutes:02d} min"


@register.filter
def run_time(execution) -> str:
    """The duration when finished, the time so far ("12 s…") while running, else "—"."""
    if execution.duration_seconds is not None:
        return seconds(execution.duration_seconds)
    if execution.started_at and not execution.finished_at:
        return seconds((timezone.now() - execution.started_at).total_seconds()) + "…"
    return "—"


@register.filter
def as_json(value) -> str:
    """Pretty JSON text (escaped by the template like any text)."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
