"""Builds through the API: queue, list, detail, log (`?after=<seq>`), cancel."""

from __future__ import annotations

import django_filters
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from deployments.api_common import LogPageOut, LogQueryIn, component_for, log_page, member_of
from deployments.builds.selectors import builds_for_component
from deployments.builds.services import build_cancel, build_queue
from deployments.models import Build
from portal.api.base import ApiListView, ApiView, errors, list_responses, responses
from portal.roles import Role


class BuildOut(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.CharField(source="component.project.slug")
    component = serializers.CharField(source="component.name")
    status = serializers.ChoiceField(choices=Build.Status.choices)
    is_finished = serializers.BooleanField()
    commit_sha = serializers.CharField()
    short_sha = serializers.CharField()
    ref = serializers.CharField(allow_blank=True)
    commit_message = serializers.CharField(allow_blank=True)
    preset = serializers.CharField()
    runtime_kind = serializers.CharField(allow_blank=True)
    image_ref = serializers.CharField(allow_blank=True)
    image_digest = serializers.CharField(allow_blank=True)
    trigger = serializers.ChoiceField(choices=Build.Trigger.choices)
    triggered_by = serializers.CharField(
        source="triggered_by.username", allow_null=True, default=None
    )
    queued_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    cancel_requested = serializers.BooleanField()
    log_truncated = serializers.BooleanField()
    image_removed_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When image clean-up removed this build's image (it can no longer be "
        "deployed); null while the image exists.",
    )


class BuildQueuedOut(BuildOut):
    reused = serializers.BooleanField(
        help_text="True when an active build of the same commit was returned instead."
    )


class BuildFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Build.Status.choices)

    class Meta:
        model = Build
        fields = ["status"]


def _build(request, build_id: int, min_role=Role.VIEWER) -> Build:
    build = get_object_or_404(
        Build.objects.select_related("component__project", "triggered_by"), pk=build_id
    )
    member_of(request, build.component, min_role)
    return build


class BuildListApi(ApiListView):
    serializer_class = BuildOut
    filter_backends = [DjangoFilterBackend]
    # Only tells the schema generator the model of the filters; get_queryset does the reads.
    queryset = Build.objects.none()
    filterset_class = BuildFilter

    def get_queryset(self):
        c = component_for(self.request, self.kwargs["project"], self.kwargs["component"])
        return builds_for_component(component=c)

    @extend_schema(
        operation_id="builds_list",
        summary="Builds of a component, newest first",
        responses=list_responses(BuildOut, 400, 404),
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class BuildQueueApi(ApiView):
    """Build the commit the component's branch points at now.

    An active build of the same commit is returned (200, `reused: true`) instead of a second one.
    """

    @extend_schema(
        operation_id="builds_create",
        request=None,
        responses={
            201: BuildQueuedOut,
            200: BuildQueuedOut,
            **errors(400, 403, 404),
        },
    )
    def post(self, request, project, component):
        c = component_for(request, project, component, Role.DEVELOPER)
        build = build_queue(component=c, actor=request.user, trigger=Build.Trigger.API)
        reused = bool(getattr(build, "reused", False))
        build = Build.objects.select_related("component__project", "triggered_by").get(pk=build.pk)
        body = BuildOut(build).data
        body["reused"] = reused
        return Response(body, status=status.HTTP_200_OK if reused else status.HTTP_201_CREATED)


class BuildDetailApi(ApiView):
    @extend_schema(operation_id="builds_retrieve", responses=responses(BuildOut, 404))
    def get(self, request, build_id):
        return Response(BuildOut(_build(request, build_id)).data)


class BuildLogApi(ApiView):
    """Log lines with `seq` greater than `after`, oldest first. Poll with the returned
    `next_after` until `finished` is true."""

    @extend_schema(
        operation_id="builds_logs",
        parameters=[LogQueryIn],
        responses=responses(LogPageOut, 400, 404),
    )
    def get(self, request, build_id):
        build = _build(request, build_id)
        q = self.query(LogQueryIn)
        page = log_page(build.log_lines.all(), obj=build, after=q["after"], limit=q["limit"])
        return Response(LogPageOut(page).data)


class BuildCancelApi(ApiView):
    """Cancel a queued build at once, or ask the worker to stop a running one."""

    @extend_schema(
        operation_id="builds_cancel", request=None, responses=responses(BuildOut, 400, 403, 404)
    )
    def post(self, request, build_id):
        build = _build(request, build_id, Role.DEVELOPER)
        build = build_cancel(build=build, actor=request.user)
        return Response(BuildOut(_build(request, build.pk)).data)
