"""Environments and the schedule preview through the API (reads for everyone signed in)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from deployments.api_common import ScheduleFields, choice_field
from deployments.models import DstRule, Environment
from deployments.schedules.parsing import check_schedule_in_zone, parse_schedule
from deployments.schedules.preview import next_runs
from portal.api.base import ApiView, responses


class EnvironmentOut(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    order = serializers.IntegerField(help_text="Promotion goes from lower to higher order.")
    is_production = serializers.BooleanField(
        help_text="Only owners change it; it only runs images that ran in a lower one first."
    )
    runtime_kind = serializers.CharField()
    max_run_seconds = serializers.IntegerField()
    memory_limit_mb = serializers.IntegerField()
    cpu_limit = serializers.FloatField()


class SchedulePreviewIn(ScheduleFields, serializers.Serializer):
    schedule = serializers.CharField(
        max_length=100, help_text='5-field cron ("0 2 * * *"), a macro (@daily) or "@every 10m".'
    )
    timezone = serializers.CharField(max_length=64, default="UTC", help_text="IANA name.")
    count = serializers.IntegerField(min_value=1, max_value=50, default=5)
    dst_rule = choice_field(
        DstRule.choices,
        default=DstRule.CRON,
        help_text="The deployment's DST rule, for a cron schedule's runs around clock changes.",
    )


class NextRunOut(serializers.Serializer):
    # A string: DRF would convert a datetime to the server's timezone.
    at_local = serializers.CharField(help_text="ISO 8601 in the schedule's timezone.")
    at_utc = serializers.DateTimeField()
    dst_note = serializers.CharField(
        allow_blank=True, help_text="Set when a daylight-saving change moves or skips this tick."
    )


class SchedulePreviewOut(serializers.Serializer):
    schedule = serializers.CharField()
    timezone = serializers.CharField()
    description = serializers.CharField()
    next_runs = NextRunOut(many=True)


class EnvironmentListApi(ApiView):
    """Environments in promotion order (Development → Production)."""

    @extend_schema(operation_id="environments_list", responses=responses(EnvironmentOut(many=True)))
    def get(self, request):
        return Response(EnvironmentOut(Environment.objects.order_by("order"), many=True).data)


class SchedulePreviewApi(ApiView):
    """Check a schedule and timezone and show the next runs, as the deploy form does."""

    @extend_schema(
        operation_id="schedules_preview",
        parameters=[SchedulePreviewIn],
        responses=responses(SchedulePreviewOut, 400),
    )
    def get(self, request):
        q = self.query(SchedulePreviewIn)
        try:
            parsed = parse_schedule(q["schedule"], dst=q["dst_rule"])
            check_schedule_in_zone(parsed, q["timezone"], now=timezone.now())
        except ValidationError as exc:
            raise serializers.ValidationError({"schedule": exc.messages}) from None
        runs = next_runs(parsed, q["timezone"], n=q["count"])
        return Response(
            SchedulePreviewOut(
                {
                    "schedule": q["schedule"],
                    "timezone": q["timezone"],
                    "description": parsed.describe(),
                    "next_runs": [
                        {
                            "at_local": r.at_local.isoformat(),
                            "at_utc": r.at_utc,
                            "dst_note": r.dst_note,
                        }
                        for r in runs
                    ],
                }
            ).data
        )
