"""Limit/offset paging that refuses what it cannot honour instead of guessing.

DRF's LimitOffsetPagination quietly replaces a negative or unreadable `limit` with the default
and passes any `offset` on to the database. Here a `limit` outside 1..MAX_LIMIT or an `offset`
outside 0..BIGINT_MAX is a 400 naming the parameter, and the OpenAPI schema states both ranges.
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.pagination import LimitOffsetPagination

from portal.params import BIGINT_MAX, bounded_int

MAX_LIMIT = 500


class Pagination(LimitOffsetPagination):
    max_limit = MAX_LIMIT

    def _param(self, request, name: str, *, minimum: int, maximum: int, default):
        raw = request.query_params.get(name, "")
        if raw == "":
            return default
        try:
            return bounded_int(raw, minimum=minimum, maximum=maximum)
        except ValueError as exc:
            raise exceptions.ValidationError({name: [str(exc)]}) from exc

    def validate(self, request) -> None:
        """Raise a 400 for an out-of-range limit or offset (called before the view's work)."""
        self.get_limit(request)
        self.get_offset(request)

    def get_limit(self, request):
        return self._param(
            request,
            self.limit_query_param,
            minimum=1,
            maximum=self.max_limit,
            default=self.default_limit,
        )

    def get_offset(self, request):
        return self._param(
            request, self.offset_query_param, minimum=0, maximum=BIGINT_MAX, default=0
        )

    def get_schema_operation_parameters(self, view):
        params = super().get_schema_operation_parameters(view)
        ranges = {
            self.limit_query_param: {"minimum": 1, "maximum": self.max_limit},
            self.offset_query_param: {"minimum": 0, "maximum": BIGINT_MAX},
        }
        for param in params:
            param["schema"].update(ranges.get(param["name"], {}))
        return params
