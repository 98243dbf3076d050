"""Personal API tokens: /api/v1/tokens/… The secret is returned once, at creation."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from portal import services
from portal.models import ApiToken
from portal.throttling import AnonRate, TokenCreateRate, UserRate

from .base import ApiListView, ApiView, InputSerializer, errors, list_responses, responses


class TokenOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(
        source="key_prefix", help_text="The first characters, to recognise it."
    )
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    is_active = serializers.BooleanField()


class TokenCreatedOut(TokenOut):
    key = serializers.CharField(help_text="The secret. Shown only in this response; store it now.")


class TokenCreateIn(InputSerializer):
    name = serializers.CharField(max_length=100)
    expires_in_days = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=services.TOKEN_MAX_DAYS,
        help_text="The token stops working after this many days; omit it for no expiry.",
    )
    password = serializers.CharField(
        required=False,
        write_only=True,
        trim_whitespace=False,
        help_text="Your password: required when this request is authenticated by a token "
        "(a token alone cannot make new tokens); not needed from a logged-in browser session.",
    )


class TokenListApi(ApiListView):
    serializer_class = TokenOut

    def get_queryset(self):
        return ApiToken.objects.filter(user=self.request.user).order_by("-created_at", "-id")

    @extend_schema(
        operation_id="tokens_list",
        summary="Your API tokens (never their secrets)",
        responses=list_responses(TokenOut),
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class TokenCreateApi(ApiView):
    throttle_classes = [AnonRate, UserRate, TokenCreateRate]

    @extend_schema(
        operation_id="tokens_create",
        summary="Create an API token; its secret is in this response only",
        description="From a browser session, or with a token plus your `password`: a token "
        "alone cannot make tokens, so revoking a stolen one ends its use.",
        request=TokenCreateIn,
        responses=responses(TokenCreatedOut, 400, 403, status=201),
    )
    def post(self, request):
        data = self.input(TokenCreateIn)
        if isinstance(request.auth, ApiToken):
            _reauthenticate(request, data.get("password") or "")
        token, key = services.api_token_create(
            user=request.user, name=data["name"], expires_in_days=data.get("expires_in_days")
        )
        body = TokenOut(token).data
        body["key"] = key
        return Response(body, status=status.HTTP_201_CREATED)


def _reauthenticate(request, password: str) -> None:
    """The password of the token's user, checked through Django's authenticate() so failed
    guesses count towards the login lockout (django-axes) like the login page's."""
    if not password:
        raise PermissionDenied(
            "A token cannot create tokens on its own: send your password too (or create "
            "tokens in the web UI, Account → API tokens)."
        )
    user = authenticate(request._request, username=request.user.get_username(), password=password)
    if user is None or user.pk != request.user.pk:
        raise PermissionDenied("That password is not right; no token was created.")


class TokenRevokeApi(ApiView):
    @extend_schema(
        operation_id="tokens_revoke",
        summary="Revoke one of your tokens",
        request=None,
        responses={200: TokenOut, **errors(404)},
    )
    def post(self, request, token_id):
        # Other users' tokens are not revealed: 404, like an unknown id.
        token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
        token = services.api_token_revoke(token=token, actor=request.user)
        return Response(TokenOut(token).data)
