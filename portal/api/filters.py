"""Filters of the API's lists that refuse what the database cannot hold.

django-filter's NumberFilter reads a decimal: `?channel=-5.4e295` passed its form and then
overflowed turning into an id. `IdFilter` reads a whole number from 1 to bigint's maximum
(a 400 naming the parameter otherwise), and the OpenAPI schema says exactly that.
"""

from __future__ import annotations

import django_filters
from django import forms
from drf_spectacular.utils import extend_schema_field

from portal.params import BIGINT_MAX


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": BIGINT_MAX})
class IdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(*args, **kwargs)


__all__ = ["IdFilter"]
