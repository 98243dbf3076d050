"""Shared pieces of every API view: strict input, error bodies, pagination, schema helpers.

Every API view is an `ApiView` (one per operation) or an `ApiListView` (paginated, filtered
lists). Client mistakes of any kind become a 4xx with the one error body of
`portal.api_errors`; domain exceptions the services raise are translated here.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import exceptions, generics, serializers
from rest_framework.views import APIView

from components.sources import SourceError


class InputSerializer(serializers.Serializer):
    """An input serializer that refuses fields it does not know (a typo must not pass silently)."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {key: ["Unknown field."] for key in unknown}, code="unknown_field"
                )
        return super().to_internal_value(data)


def translate_exception(exc: Exception) -> Exception:
    """Domain exceptions to DRF ones, so the API answers 4xx instead of 500."""
    if isinstance(exc, SourceError):
        field = getattr(exc, "field", None) or "source"
        return exceptions.ValidationError({field: [str(exc)]})
    if isinstance(exc, DataError):
        # A value the database cannot hold (an id past bigint, a string past its column).
        return exceptions.ValidationError({"detail": ["A value is out of range."]})
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return exceptions.ValidationError(detail=detail)
    return exc


class _TranslateMixin:
    def handle_exception(self, exc):
        return super().handle_exception(translate_exception(exc))


# Base classes carry no docstring: drf-spectacular would show it as every operation's description.
class ApiView(_TranslateMixin, APIView):
    # One operation. Subclasses declare input/output serializers and call one service.

    def input(self, serializer_class, *, data=None, **kwargs) -> dict:
        s = serializer_class(data=self.request.data if data is None else data, **kwargs)
        s.is_valid(raise_exception=True)
        return s.validated_data

    def query(self, serializer_class) -> dict:
        s = serializer_class(data=self.request.query_params)
        s.is_valid(raise_exception=True)
        return s.validated_data


class ApiListView(_TranslateMixin, generics.ListAPIView):
    # A paginated list (limit/offset); `get_queryset` does the permission-checked read.

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # An out-of-range limit or offset is refused before any work (portal/api/pagination.py).
        validate = getattr(self.paginator, "validate", None)
        if validate is not None:
            validate(request)


# --- schema helpers -------------------------------------------------------------------------
class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="Machine-readable: invalid, not_found, permission_denied, …"
    )
    message = serializers.CharField(help_text="One human-readable sentence.")
    fields = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text="Per-field messages (validation errors only).",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorBodySerializer()


_ERROR_TEXT = {
    400: "Invalid input: malformed JSON, unknown or invalid fields, a rule the service refused.",
    401: "No or invalid credentials.",
    403: "You are a member of the project but your role does not allow this.",
    404: "No such object, or it belongs to a project you are not a member of.",
    409: "Conflicts with the current state.",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """Error responses for `extend_schema(responses=...)`; 401 is always possible."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=_ERROR_TEXT[code])
        for code in sorted({401, *codes})
    }


def responses(ok, *error_codes: int, status: int = 200) -> dict:
    return {status: ok, **errors(*error_codes)}


def list_responses(serializer_class, *error_codes: int) -> dict:
    """A paginated list (drf-spectacular wraps `many=True` in the limit/offset envelope)."""
    return {200: serializer_class(many=True), **errors(*error_codes)}


NO_CONTENT = OpenApiResponse(description="Done; no body.")

DetailSerializer = inline_serializer("Detail", {"detail": serializers.CharField()})


@extend_schema_view(
    **{m: extend_schema(exclude=True) for m in ("get", "post", "put", "patch", "delete")}
)
class NotFoundApi(ApiView):
    """Any other path under /api/v1/: a JSON 404 instead of the HTML page."""

    permission_classes: list = []
    authentication_classes: list = []

    def _not_found(self, request, *args, **kwargs):
        raise exceptions.NotFound("No such API endpoint.")

    get = post = put = patch = delete = _not_found
