"""Personal API tokens: /api/v1/tokens/… The secret is returned once, at creation."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from portal import services
from portal.models import ApiToken

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
    is_active = serializers.BooleanField()


class TokenCreatedOut(TokenOut):
    key = serializers.CharField(help_text="The secret. Shown only in this response; store it now.")


class TokenCreateIn(InputSerializer):
    name = serializers.CharField(max_length=100)


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
    @extend_schema(
        operation_id="tokens_create",
        summary="Create an API token; its secret is in this response only",
        request=TokenCreateIn,
        responses=responses(TokenCreatedOut, 400, status=201),
    )
    def post(self, request):
        data = self.input(TokenCreateIn)
        token, key = services.api_token_create(user=request.user, name=data["name"])
        body = TokenOut(token).data
        body["key"] = key
        return Response(body, status=status.HTTP_201_CREATED)


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
