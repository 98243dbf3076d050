"""Alerting through the API: channels (per project), rules (per component), deliveries.

A webhook URL carries its credential (Slack's especially): it is write-only, like a secret;
responses show only its host.
"""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from deployments.api_common import component_for
from deployments.environments import environment_get
from portal.api.base import (
    NO_CONTENT,
    ApiListView,
    ApiView,
    InputSerializer,
    errors,
    list_responses,
    responses,
)
from portal.api.filters import IdFilter
from portal.roles import Role
from portal.selectors import project_get_for_user

from .heartbeats import platform_health
from .models import AlertChannel, AlertDelivery, AlertRule, ProcessHeartbeat
from .services import alert_config


class ChannelOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=AlertChannel.Kind.choices)
    target = serializers.CharField(
        source="target_display", help_text="Addresses, or the webhook's host (URL hidden)."
    )
    created_at = serializers.DateTimeField()


class ChannelCreateIn(InputSerializer):
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=AlertChannel.Kind.choices)
    email_addresses = serializers.CharField(required=False, allow_blank=True, default="")
    webhook_url = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000, help_text="Write-only."
    )


class RuleOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=AlertRule.Kind.choices)
    description = serializers.CharField(source="describe")
    environment = serializers.CharField(
        source="environment.slug", allow_null=True, default=None, help_text="null: every one."
    )
    threshold = serializers.IntegerField(allow_null=True)
    channel = serializers.IntegerField(source="channel_id")
    channel_name = serializers.CharField(source="channel.name")
    notify_recovery = serializers.BooleanField()
    enabled = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class RuleCreateIn(InputSerializer):
    kind = serializers.ChoiceField(choices=AlertRule.Kind.choices)
    channel = serializers.IntegerField(min_value=1, max_value=2**62, help_text="Channel id.")
    environment = serializers.SlugField(
        required=False, allow_null=True, default=None, help_text="Default: every environment."
    )
    threshold = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=1, max_value=10**9
    )
    notify_recovery = serializers.BooleanField(default=True)


class DeliveryOut(serializers.Serializer):
    id = serializers.IntegerField()
    channel = serializers.IntegerField(source="channel_id")
    channel_name = serializers.CharField(source="channel.name")
    kind = serializers.ChoiceField(choices=AlertDelivery.Kind.choices)
    status = serializers.ChoiceField(choices=AlertDelivery.Status.choices)
    subject = serializers.CharField()
    message = serializers.CharField(allow_blank=True)
    attempts = serializers.IntegerField()
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    attempted_at = serializers.DateTimeField(allow_null=True)


class DeliveryFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=AlertDelivery.Status.choices)
    kind = django_filters.ChoiceFilter(choices=AlertDelivery.Kind.choices)
    channel = IdFilter(field_name="channel_id")

    class Meta:
        model = AlertDelivery
        fields = ["status", "kind", "channel"]


# --- channels ---------------------------------------------------------------------------------
class ChannelListApi(ApiListView):
    serializer_class = ChannelOut

    def get_queryset(self):
        p = project_get_for_user(user=self.request.user, slug=self.kwargs["project"])
        return AlertChannel.objects.filter(project=p).order_by("name")

    @extend_schema(operation_id="alert_channels_list", responses=list_responses(ChannelOut, 404))
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ChannelCreateApi(ApiView):
    """Add an email or webhook (Slack-compatible) channel to a project."""

    @extend_schema(
        operation_id="alert_channels_create",
        request=ChannelCreateIn,
        responses=responses(ChannelOut, 400, 403, 404, status=201),
    )
    def post(self, request, project):
        p = project_get_for_user(user=request.user, slug=project, min_role=Role.DEVELOPER)
        data = self.input(ChannelCreateIn)
        channel = alert_config.alert_channel_create(project=p, actor=request.user, **data)
        return Response(ChannelOut(channel).data, status=status.HTTP_201_CREATED)


class ChannelDeleteApi(ApiView):
    """Delete a channel and the rules that send to it."""

    @extend_schema(
        operation_id="alert_channels_destroy",
        request=None,
        responses={204: NO_CONTENT, **errors(403, 404)},
    )
    def post(self, request, project, channel_id):
        p = project_get_for_user(user=request.user, slug=project, min_role=Role.DEVELOPER)
        channel = get_object_or_404(AlertChannel, project=p, pk=channel_id)
        alert_config.alert_channel_delete(channel=channel, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeliveryListApi(ApiListView):
    """The delivery log of a project's alert channels, newest first."""

    serializer_class = DeliveryOut
    filter_backends = [DjangoFilterBackend]
    filterset_class = DeliveryFilter
    # Only tells the schema generator the model of the filters; get_queryset does the reads.
    queryset = AlertDelivery.objects.none()

    def get_queryset(self):
        p = project_get_for_user(user=self.request.user, slug=self.kwargs["project"])
        return (
            AlertDelivery.objects.filter(channel__project=p)
            .select_related("channel")
            .order_by("-created_at", "-id")
        )

    @extend_schema(
        operation_id="alert_deliveries_list", responses=list_responses(DeliveryOut, 400, 404)
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


# --- rules ------------------------------------------------------------------------------------
class RuleListApi(ApiListView):
    serializer_class = RuleOut

    def get_queryset(self):
        c = component_for(self.request, self.kwargs["project"], self.kwargs["component"])
        return AlertRule.objects.filter(component=c).select_related("environment", "channel")

    @extend_schema(operation_id="alert_rules_list", responses=list_responses(RuleOut, 404))
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RuleCreateApi(ApiView):
    """Alert a channel on failure, after N consecutive failures, on a missed tick, on a long
    run (threshold: seconds) or on recovery."""

    @extend_schema(
        operation_id="alert_rules_create",
        request=RuleCreateIn,
        responses=responses(RuleOut, 400, 403, 404, status=201),
    )
    def post(self, request, project, component):
        c = component_for(request, project, component, Role.DEVELOPER)
        data = self.input(RuleCreateIn)
        channel = AlertChannel.objects.filter(project=c.project, pk=data["channel"]).first()
        if channel is None:
            raise ValidationError({"channel": f"No channel #{data['channel']} in this project."})
        env = environment_get(slug=data["environment"]) if data["environment"] else None
        rule = alert_config.alert_rule_create(
            component=c,
            actor=request.user,
            kind=data["kind"],
            channel=channel,
            environment=env,
            threshold=data["threshold"],
            notify_recovery=data["notify_recovery"],
        )
        rule = AlertRule.objects.select_related("environment", "channel").get(pk=rule.pk)
        return Response(RuleOut(rule).data, status=status.HTTP_201_CREATED)


class RuleDeleteApi(ApiView):
    @extend_schema(
        operation_id="alert_rules_destroy",
        request=None,
        responses={204: NO_CONTENT, **errors(403, 404)},
    )
    def post(self, request, project, component, rule_id):
        c = component_for(request, project, component, Role.DEVELOPER)
        rule = get_object_or_404(AlertRule, component=c, pk=rule_id)
        alert_config.alert_rule_delete(rule=rule, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- platform health (everyone signed in) --------------------------------------------------
class ProcessOut(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=ProcessHeartbeat.Kind.choices)
    queues = serializers.ListField(child=serializers.CharField())
    started_at = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()
    fresh = serializers.BooleanField(help_text="Checked in within CHORUS_PROCESS_STALE_SECONDS.")


class HealthOut(serializers.Serializer):
    ok = serializers.BooleanField(help_text="A beat and a worker of the executions queue are up.")
    problems = serializers.ListField(
        child=serializers.CharField(), help_text="What is wrong, in words (empty when ok)."
    )
    processes = ProcessOut(many=True)


class HealthApi(ApiView):
    """Is anybody firing and running the ticks? The beat and worker processes that checked in."""

    @extend_schema(operation_id="health", responses=responses(HealthOut))
    def get(self, request):
        health = platform_health()
        return Response(
            HealthOut(
                {"ok": health.ok, "problems": health.problems, "processes": health.processes}
            ).data
        )
