"""The default cache backend when Redis is configured: a Redis that fails is a miss.

What Chorus keeps in the cache (the project overview's rendered table, API rate counts, the
engine's measured start rate) can always be computed again or done without, so a Redis that is
down, restarting or slow must cost a page its speed, never the page: Django's RedisCache
raises on connection errors, this one logs and answers as if the key were absent. After a
failure it leaves Redis alone for RETRY_SECONDS, so a dead server does not add a connection
attempt to every request.

`clear()` deletes this cache's own keys (KEY_PREFIX) instead of FLUSHDB: the cache may share
its Redis database with the Celery broker (by default CHORUS_CACHE_URL is REDIS_URL).
"""

from __future__ import annotations

import logging
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)

RETRY_SECONDS = 5.0


def caches_setting(url: str) -> dict:
    """settings.CACHES for a cache URL (redis://…), or per-process memory for ''."""
    if not url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    return {
        "default": {
            "BACKEND": "portal.cache.ForgivingRedisCache",
            "LOCATION": url,
            # Not FLUSHDB's business: see clear().
            "KEY_PREFIX": "chorus-cache",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


class ForgivingRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._down_until = 0.0

    def _try(self, call, fallback):
        if time.monotonic() < self._down_until:
            return fallback
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - redis-py raises many kinds; all mean a miss
            self._down_until = time.monotonic() + RETRY_SECONDS
            logger.warning(
                "cache unavailable, treated as a miss for %.0f s: %s", RETRY_SECONDS, exc
            )
            return fallback

    def get(self, key, default=None, version=None):
        return self._try(
            lambda: super(ForgivingRedisCache, self).get(key, default, version), default
        )

    def get_many(self, keys, version=None):
        return self._try(lambda: super(ForgivingRedisCache, self).get_many(keys, version), {})

    def has_key(self, key, version=None):
        return self._try(lambda: super(ForgivingRedisCache, self).has_key(key, version), False)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self._try(lambda: super(ForgivingRedisCache, self).set(key, value, timeout, version), None)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        # A miss: the key was not there, so adding it "succeeds".
        return self._try(
            lambda: super(ForgivingRedisCache, self).add(key, value, timeout, version), True
        )

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._try(
            lambda: super(ForgivingRedisCache, self).set_many(data, timeout, version), []
        )

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._try(
            lambda: super(ForgivingRedisCache, self).touch(key, timeout, version), False
        )

    def delete(self, key, version=None):
        return self._try(lambda: super(ForgivingRedisCache, self).delete(key, version), False)

    def delete_many(self, keys, version=None):
        self._try(lambda: super(ForgivingRedisCache, self).delete_many(keys, version), None)

    def incr(self, key, delta=1, version=None):
        missing = object()
        value = self._try(
            lambda: super(ForgivingRedisCache, self).incr(key, delta, version), missing
        )
        if value is missing:
            raise ValueError(f"Key '{key}' not found")  # what a miss means to incr()
        return value

    def clear(self):
        def delete_own_keys() -> bool:
            client = self._cache.get_client(None, write=True)
            keys = list(client.scan_iter(match=f"{self.key_prefix}:*", count=1000))
            for start in range(0, len(keys), 1000):
                client.delete(*keys[start : start + 1000])
            return True

        return self._try(delete_own_keys, False)
