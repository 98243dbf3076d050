"""The deploy log through the API."""

from __future__ import annotations

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from deployments.api_common import component_for
from deployments.models import DeploymentEvent
from portal.api.base import ApiListView, list_responses


class EventOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=DeploymentEvent.Kind.choices)
    outcome = serializers.ChoiceField(choices=DeploymentEvent.Outcome.choices)
    environment = serializers.CharField(source="environment.slug", allow_null=True, default=None)
    build = serializers.IntegerField(source="build_id", allow_null=True)
    schedule = serializers.CharField(allow_blank=True)
    timezone = serializers.CharField(allow_blank=True)
    message = serializers.CharField(allow_blank=True)
    actor = serializers.CharField(source="actor.username", allow_null=True, default=None)
    created_at = serializers.DateTimeField()


class EventFilter(django_filters.FilterSet):
    environment = django_filters.CharFilter(field_name="environment__slug")
    kind = django_filters.ChoiceFilter(choices=DeploymentEvent.Kind.choices)
    outcome = django_filters.ChoiceFilter(choices=DeploymentEvent.Outcome.choices)

    class Meta:
        model = DeploymentEvent
        fields = ["environment", "kind", "outcome"]


class DeploymentEventListApi(ApiListView):
    """The deploy log: every deploy, promotion, config change, suspend, resume, undeploy, run
    (refused attempts too), newest first. Secret values never appear in it."""

    serializer_class = EventOut
    filter_backends = [DjangoFilterBackend]
    # Only tells the schema generator the model of the filters; get_queryset does the reads.
    queryset = DeploymentEvent.objects.none()
    filterset_class = EventFilter

    def get_queryset(self):
        c = component_for(self.request, self.kwargs["project"], self.kwargs["component"])
        return (
            DeploymentEvent.objects.filter(component=c)
            .select_related("environment", "actor")
            .order_by("-created_at", "-id")
        )

    @extend_schema(operation_id="events_list", responses=list_responses(EventOut, 400, 404))
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
