"""DRF authentication by personal API token: `Authorization: Bearer chorus_…` (or `Token …`)."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import ApiToken
from .throttling import auth_failure_record, auth_failures_check


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="replace")
        parts = header.split()
        if not parts or parts[0].lower() not in self.keywords:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        # An address that keeps failing is refused before its next guess is even looked at.
        auth_failures_check(request)
        key = parts[1]
        token = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=ApiToken.hash_key(key), revoked_at__isnull=True)
            .first()
        )
        if token is None or not token.user.is_active:
            auth_failure_record(request)
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        if token.is_expired:
            auth_failure_record(request)
            raise exceptions.AuthenticationFailed(
                "This API token has expired; create a new one (Account → API tokens)."
            )
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="chorus"'
