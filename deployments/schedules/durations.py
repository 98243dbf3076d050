"""Durations for `@every`: parsed from `1h30m`, written back in words or compactly."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

MIN_INTERVAL_SECONDS = 1
MAX_INTERVAL_SECONDS = 366 * 86400
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str) -> int:
    """'1h30m' -> 5400 seconds; ValidationError on anything else."""
    text = (text or "").strip().lower().replace(" ", "")
    m = _DURATION_RE.match(text)
    if not text or not m or not any(m.groups()):
        raise ValidationError(
            f'"{text}" is not a duration. Write it like 30s, 10m, 2h or 1h30m.', code="duration"
        )
    seconds = sum(int(v) * _UNIT_SECONDS[u] for v, u in zip(m.groups(), "dhms", strict=True) if v)
    if seconds < MIN_INTERVAL_SECONDS:
        raise ValidationError("The interval must be at least 1 second.", code="duration")
    if seconds > MAX_INTERVAL_SECONDS:
        raise ValidationError("The interval must be at most 366 days.", code="duration")
    return seconds


def format_duration(seconds: int) -> str:
    """5400 -> '1 hour and 30 minutes'; 600 -> '10 minutes'; 3600 -> 'hour'."""
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{n} {unit}{'s' if n != 1 else ''}")
    if len(parts) == 1 and parts[0].startswith("1 "):
        return parts[0][2:]
    return " and ".join([", ".join(parts[:-1]), parts[-1]]) if len(parts) > 1 else parts[0]


def compact_duration(seconds: int) -> str:
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            out += f"{n}{unit}"
    return out
