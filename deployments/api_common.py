"""Lookups and serializers shared by the deployments API modules."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from rest_framework import serializers

from components.models import Component
from components.selectors import component_get_for_user
from deployments.schedules.parsing import parse_schedule
from deployments.schedules.timezones import validate_timezone
from portal.roles import Role

MASK = "••••"


def component_for(request, project: str, component: str, min_role=Role.VIEWER) -> Component:
    return component_get_for_user(
        user=request.user, project_slug=project, name=component, min_role=min_role
    )


def member_of(request, component: Component, min_role=Role.VIEWER) -> None:
    """404 for outsiders, 403 below `min_role`, for an object found by its global id."""
    component_for(request, component.project.slug, component.name, min_role)


def choice_field(choices, **kwargs) -> serializers.ChoiceField:
    """A choice field whose refusal names the values it takes (DRF's says only "not valid"),
    so the CLI, which passes such values through unchecked, shows the user what to type."""
    values = ", ".join(str(value) for value, _ in choices)
    return serializers.ChoiceField(
        choices=choices,
        error_messages={"invalid_choice": f'"{{input}}" is not one of: {values}.'},
        **kwargs,
    )


class LogLineOut(serializers.Serializer):
    seq = serializers.IntegerField()
    ts = serializers.DateTimeField()
    stream = serializers.CharField()
    text = serializers.CharField(allow_blank=True)


class LogPageOut(serializers.Serializer):
    lines = LogLineOut(many=True)
    next_after = serializers.IntegerField(help_text="Pass as ?after= to get the lines after these.")
    has_more = serializers.BooleanField(help_text="More lines are stored already: ask again now.")
    finished = serializers.BooleanField(help_text="The run is over: no line will be added.")
    status = serializers.CharField()
    truncated = serializers.BooleanField(
        help_text="The log hit the size cap; later output dropped."
    )


class LogQueryIn(serializers.Serializer):
    after = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=2000, required=False, default=1000)


def log_page(queryset, *, obj, after: int, limit: int) -> dict:
    """One page of `queryset` (log lines of `obj`) after `after`.

    `finished` is read before the lines: a run that finishes between the two reads still
    gets one more poll, so its last lines are never skipped.
    """
    state = obj.__class__.objects.values("status", "log_truncated").get(pk=obj.pk)
    lines = list(queryset.filter(seq__gt=after).order_by("seq")[: limit + 1])
    has_more = len(lines) > limit
    lines = lines[:limit]
    return {
        "lines": lines,
        "next_after": lines[-1].seq if lines else after,
        "has_more": has_more,
        "finished": state["status"] in obj.FINISHED and not has_more,
        "status": state["status"],
        "truncated": state["log_truncated"],
    }


class ScheduleFields:
    """Schedule and timezone checked here too, so a mistake is reported on its field."""

    def validate_schedule(self, value):
        if value is not None:
            try:
                parse_schedule(value)
            except ValidationError as exc:
                raise serializers.ValidationError(exc.messages) from None
        return value

    def validate_timezone(self, value):
        if value is not None:
            try:
                return validate_timezone(value)
            except ValidationError as exc:
                raise serializers.ValidationError(exc.messages) from None
        return value
