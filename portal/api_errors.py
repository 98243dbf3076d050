"""One error body for every API failure: {"error": {"code": ..., "message": ..., "fields": ...}}."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            msg = _first_message(value)
            return msg if key in ("non_field_errors", "__all__", "detail") else f"{key}: {msg}"
        return "Invalid input."
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else "Invalid input."
    return str(detail)


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail=detail)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(detail=str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(detail=str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.ValidationError):
        fields = response.data if isinstance(response.data, dict) else {"detail": response.data}
        body = {"code": "invalid", "message": _first_message(response.data), "fields": fields}
    else:
        detail = response.data.get("detail") if isinstance(response.data, dict) else response.data
        body = {
            "code": getattr(getattr(exc, "detail", None), "code", code) or code,
            "message": str(detail),
        }
    response.data = {"error": body}
    return response


def error_response(code: str, message: str, status_code: int = status.HTTP_400_BAD_REQUEST):
    return Response({"error": {"code": code, "message": message}}, status=status_code)
