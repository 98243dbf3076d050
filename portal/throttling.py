"""API rate limits (DRF throttles) and the lockout after failed token authentications.

DRF reads throttle rates once, when its classes are defined; these read Django's settings at
every request, so an operator's value (and a test's) always applies. Counts live in the
default cache (settings.CACHES).
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions, throttling

AUTH_FAILURE_WINDOW = 600  # seconds


class AnonRate(throttling.AnonRateThrottle):
    def get_rate(self) -> str:
        return settings.CHORUS_API_ANON_RATE


class UserRate(throttling.UserRateThrottle):
    def get_rate(self) -> str:
        return settings.CHORUS_API_USER_RATE


class TokenCreateRate(throttling.UserRateThrottle):
    scope = "token_create"

    def get_rate(self) -> str:
        return settings.CHORUS_API_TOKEN_CREATE_RATE


def _failures_key(request) -> str:
    return f"chorus:api-auth-failures:{request.META.get('REMOTE_ADDR', '')}"


def auth_failures_check(request) -> None:
    """Throttled (429) while this address has failed token authentication too often."""
    if cache.get(_failures_key(request), 0) >= settings.CHORUS_API_AUTH_FAILURE_LIMIT:
        raise exceptions.Throttled(
            wait=AUTH_FAILURE_WINDOW,
            detail="Too many failed authentications from this address; try again later.",
        )


def auth_failure_record(request) -> None:
    key = _failures_key(request)
    # add() starts the window; incr() keeps its expiry.
    if not cache.add(key, 1, timeout=AUTH_FAILURE_WINDOW):
        try:
            cache.incr(key)
        except ValueError:  # expired between the two calls
            cache.add(key, 1, timeout=AUTH_FAILURE_WINDOW)
