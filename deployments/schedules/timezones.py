"""Timezones: IANA names, validated with a suggestion, and turned into tzinfo."""

from __future__ import annotations

import difflib
import zoneinfo
from datetime import tzinfo
from functools import cache

from django.core.exceptions import ValidationError


@cache
def known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@cache
def _timezones_by_lower() -> dict[str, str]:
    return {name.lower(): name for name in known_timezones()}


def validate_timezone(name: str) -> str:
    """The IANA timezone name, stripped; ValidationError with a suggestion when unknown."""
    name = (name or "").strip()
    if not name:
        raise ValidationError("Choose a timezone, e.g. UTC or Europe/Berlin.", code="timezone")
    # "europe/berlin" and "utc" are unambiguous: accept them in their canonical spelling.
    name = _timezones_by_lower().get(name.lower(), name)
    if name not in known_timezones():
        close = difflib.get_close_matches(name, sorted(known_timezones()), n=1, cutoff=0.75)
        hint = f' Did you mean "{close[0]}"?' if close else ""
        raise ValidationError(
            f'Unknown timezone "{name}". Use an IANA name such as "Europe/Berlin", '
            f'"America/New_York" or "UTC".{hint}',
            code="timezone",
        )
    return name


def get_zone(tz: str | tzinfo) -> tzinfo:
    if isinstance(tz, str):
        return zoneinfo.ZoneInfo(validate_timezone(tz))
    return tz
