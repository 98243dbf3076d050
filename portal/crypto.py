"""Encryption at rest for secrets (tokens, secret config values, webhook secrets).

Fernet (AES-128-CBC + HMAC) from `cryptography`, keyed by CHORUS_ENCRYPTION_KEY. Several
comma-separated keys may be given: the first encrypts, every key decrypts, so keys can rotate.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionError(Exception):
    """A stored secret could not be decrypted (wrong or rotated-away key)."""


@cache
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in settings.CHORUS_ENCRYPTION_KEYS])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("stored secret cannot be decrypted with the configured keys") from exc
