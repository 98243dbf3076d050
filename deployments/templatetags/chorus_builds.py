"""Template helpers for build pages: `{{ build|build_duration }}`."""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils import timezone

register = template.Library()


def format_seconds(seconds: float) -> str:
    seconds = max(int(round(seconds)), 0)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@register.filter
def build_duration(build) -> str:
    """ "42 s" when finished, "12 s…" while running, "—" before it starts."""
    if not getattr(build, "started_at", None):
        return "—"
    end = build.finished_at or timezone.now()
    text = format_seconds((end - build.started_at) / timedelta(seconds=1))
    return text if build.finished_at else text + "…"


@register.filter
def builds_active(builds) -> bool:
    """True while any of these builds is queued or running (the table keeps refreshing)."""
    return any(getattr(b, "status", "") in ("queued", "running") for b in builds)
