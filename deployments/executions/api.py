"""Executions through the API: run now (with a JSON payload), list with filters, detail,
log (`?after=<seq>`), cancel, re-run. Writes call deployments.executions."""

from __future__ import annotations

import json

import django_filters
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from deployments.api_common import (
    LogLineOut,
    LogPageOut,
    LogQueryIn,
    component_for,
    log_page,
    member_of,
)
from deployments.deploy.api.deployments import deployment_for
from deployments.deploy.services.rules import check_environment_role
from deployments.environments import environment_get
from deployments.executions.actions import execution_cancel, execution_rerun, execution_run_now
from deployments.loglevels import NAMES as LEVEL_NAMES
from deployments.loglevels import parse_level
from deployments.models import Execution
from portal.api.base import ApiListView, ApiView, InputSerializer, list_responses, responses
from portal.roles import Role


class ExecutionOut(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.CharField(source="deployment.component.project.slug")
    component = serializers.CharField(source="deployment.component.name")
    environment = serializers.CharField(source="deployment.environment.slug")
    deployment = serializers.IntegerField(source="deployment_id")
    status = serializers.ChoiceField(choices=Execution.Status.choices)
    is_finished = serializers.BooleanField()
    trigger = serializers.ChoiceField(choices=Execution.Trigger.choices)
    attempt = serializers.IntegerField()
    scheduled_for = serializers.DateTimeField(help_text="The tick (or the request time).")
    queued_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    fire_lag_seconds = serializers.FloatField(allow_null=True)
    duration_seconds = serializers.FloatField(allow_null=True)
    exit_code = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField(
        allow_blank=True, help_text="Why it was skipped, missed, failed by Chorus or cancelled."
    )
    build = serializers.IntegerField(source="build_id", allow_null=True)
    image_ref = serializers.CharField(allow_blank=True)
    image_digest = serializers.CharField(allow_blank=True)
    config_revision = serializers.IntegerField()
    payload = serializers.JSONField(allow_null=True)
    result = serializers.JSONField(
        allow_null=True,
        help_text='What the task wrote to CHORUS_RESULT_FILE: {"status", "summary", "stats"}, '
        'or {"error"} when the file was malformed or oversized; null when it wrote none.',
    )
    triggered_by = serializers.CharField(
        source="triggered_by.username", allow_null=True, default=None
    )
    parent = serializers.IntegerField(source="parent_id", allow_null=True)
    cancel_requested = serializers.BooleanField()
    log_truncated = serializers.BooleanField()


class RunNowIn(InputSerializer):
    payload = serializers.JSONField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Any JSON; the task reads it from CHORUS_PAYLOAD. At most 64 KB.",
    )


class ExecutionFilter(django_filters.FilterSet):
    environment = django_filters.CharFilter(field_name="deployment__environment__slug")
    status = django_filters.MultipleChoiceFilter(choices=Execution.Status.choices)
    trigger = django_filters.ChoiceFilter(choices=Execution.Trigger.choices)
    scheduled_after = django_filters.IsoDateTimeFilter(
        field_name="scheduled_for", lookup_expr="gte"
    )
    scheduled_before = django_filters.IsoDateTimeFilter(
        field_name="scheduled_for", lookup_expr="lt"
    )

    class Meta:
        model = Execution
        fields = ["environment", "status", "trigger", "scheduled_after", "scheduled_before"]


def _executions():
    return Execution.objects.select_related(
        "deployment__component__project", "deployment__environment", "triggered_by"
    )


def _execution(request, execution_id: int, min_role=Role.VIEWER) -> Execution:
    execution = get_object_or_404(_executions(), pk=execution_id)
    member_of(request, execution.deployment.component, min_role)
    return execution


def _check_env(request, execution: Execution, action: str) -> None:
    check_environment_role(
        actor=request.user,
        component=execution.deployment.component,
        environment=execution.deployment.environment,
        action=action,
    )


def _out(execution: Execution) -> dict:
    return ExecutionOut(_executions().get(pk=execution.pk)).data


class ExecutionListApi(ApiListView):
    """Executions of a component, newest tick first; filter by environment, status (repeat
    for several), trigger and time."""

    serializer_class = ExecutionOut
    filter_backends = [DjangoFilterBackend]
    filterset_class = ExecutionFilter
    # Only tells the schema generator the model of the filters; get_queryset does the reads.
    queryset = Execution.objects.none()

    def get_queryset(self):
        c = component_for(self.request, self.kwargs["project"], self.kwargs["component"])
        return _executions().filter(deployment__component=c).order_by("-scheduled_for", "-id")

    @extend_schema(operation_id="executions_list", responses=list_responses(ExecutionOut, 400, 404))
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ExecutionRunNowApi(ApiView):
    """Run what is deployed in this environment now, with an optional JSON payload."""

    @extend_schema(
        operation_id="deployments_run",
        request=RunNowIn,
        responses=responses(ExecutionOut, 400, 403, 404, status=201),
    )
    def post(self, request, project, component, env):
        c = component_for(request, project, component)
        environment = environment_get(slug=env)
        check_environment_role(
            actor=request.user, component=c, environment=environment, action="run tasks"
        )
        data = self.input(RunNowIn)
        payload = data["payload"]
        if isinstance(payload, str):
            # The service reads a str as JSON text (form input); here it already is JSON.
            payload = json.dumps(payload)
        execution = execution_run_now(
            deployment=deployment_for(c, environment), actor=request.user, payload=payload
        )
        return Response(_out(execution), status=status.HTTP_201_CREATED)


class ExecutionDetailApi(ApiView):
    @extend_schema(operation_id="executions_retrieve", responses=responses(ExecutionOut, 404))
    def get(self, request, execution_id):
        return Response(ExecutionOut(_execution(request, execution_id)).data)


class ExecutionLogLineOut(LogLineOut):
    level = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ChoiceField(choices=list(LEVEL_NAMES.values())))
    def get_level(self, line) -> str:
        return LEVEL_NAMES.get(line.level, "info")


class ExecutionLogPageOut(LogPageOut):
    lines = ExecutionLogLineOut(many=True)


class ExecutionLogQueryIn(LogQueryIn):
    level = serializers.ChoiceField(
        choices=["debug", "info", "warning", "error", "critical"],
        required=False,
        help_text="Only lines at this level and above (stderr lines are errors).",
    )


class ExecutionLogApi(ApiView):
    """Log lines with `seq` greater than `after`, oldest first, secrets masked, each with its
    level. Poll with the returned `next_after` until `finished` is true."""

    @extend_schema(
        operation_id="executions_logs",
        parameters=[ExecutionLogQueryIn],
        responses=responses(ExecutionLogPageOut, 400, 404),
    )
    def get(self, request, execution_id):
        execution = _execution(request, execution_id)
        q = self.query(ExecutionLogQueryIn)
        lines = execution.log_lines.all()
        if q.get("level"):
            lines = lines.filter(level__gte=parse_level(q["level"]))
        page = log_page(lines, obj=execution, after=q["after"], limit=q["limit"])
        return Response(ExecutionLogPageOut(page).data)


class ExecutionCancelApi(ApiView):
    """Cancel a pending execution at once, or ask its worker to stop a running one."""

    @extend_schema(
        operation_id="executions_cancel",
        request=None,
        responses=responses(ExecutionOut, 400, 403, 404),
    )
    def post(self, request, execution_id):
        execution = _execution(request, execution_id)
        _check_env(request, execution, "cancel runs")
        execution = execution_cancel(execution=execution, actor=request.user)
        return Response(_out(execution))


class ExecutionRerunApi(ApiView):
    """Run the same image with the same payload again, as a new execution."""

    @extend_schema(
        operation_id="executions_rerun",
        request=None,
        responses=responses(ExecutionOut, 400, 403, 404, status=201),
    )
    def post(self, request, execution_id):
        execution = _execution(request, execution_id)
        _check_env(request, execution, "re-run tasks")
        rerun = execution_rerun(execution=execution, actor=request.user)
        return Response(_out(rerun), status=status.HTTP_201_CREATED)
