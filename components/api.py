"""Components through the API: /api/v1/projects/<project>/components/…

Same services and selectors as the HTML views, so the rules (roles, source checks, preset
detection, unique names) are the same. The webhook secret is never part of a response.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from portal.api.base import (
    NO_CONTENT,
    ApiListView,
    ApiView,
    InputSerializer,
    errors,
    list_responses,
    responses,
)
from portal.roles import Role
from portal.selectors import project_get_for_user

from . import services
from .models import Component
from .samples import SAMPLES
from .selectors import component_get_for_user, component_list, github_connection_get


class ComponentOut(serializers.Serializer):
    project = serializers.SlugField(source="project.slug")
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    source_kind = serializers.ChoiceField(choices=Component.SourceKind.choices)
    source = serializers.CharField(source="source_display", help_text="Where the code comes from.")
    git_url = serializers.CharField(allow_blank=True)
    repository = serializers.CharField(allow_blank=True)
    github_connection = serializers.IntegerField(source="github_connection_id", allow_null=True)
    branch = serializers.CharField(allow_blank=True)
    path = serializers.CharField(allow_blank=True)
    sample_key = serializers.CharField(allow_blank=True)
    preset = serializers.ChoiceField(choices=Component.Preset.choices)
    entry_command = serializers.CharField(allow_blank=True)
    auto_build = serializers.BooleanField()
    run_as_root = serializers.BooleanField(
        help_text="The container runs as root (only owners can turn this on)."
    )
    managed_by_repository = serializers.BooleanField(
        help_text="Schedules as code: builds and promotions apply chorus.toml's "
        "[environments.<slug>] settings, which are then read-only elsewhere."
    )
    pull_request_url = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ComponentCreateIn(InputSerializer):
    name = serializers.CharField(max_length=63)
    source_kind = serializers.ChoiceField(choices=Component.SourceKind.choices)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    git_url = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    repository = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=200, help_text="owner/name"
    )
    github_connection = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="Id of a GitHub connection."
    )
    branch = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    path = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)
    sample_key = serializers.ChoiceField(
        choices=sorted(SAMPLES), required=False, allow_blank=True, default=""
    )
    preset = serializers.ChoiceField(
        choices=Component.Preset.choices,
        required=False,
        allow_null=True,
        default=None,
        help_text="Detected from the source when omitted.",
    )
    entry_command = serializers.CharField(
        required=False, allow_null=True, default=None, max_length=300
    )
    auto_build = serializers.BooleanField(required=False, default=False)


class ComponentUpdateIn(InputSerializer):
    description = serializers.CharField(required=False, allow_blank=True)
    git_url = serializers.CharField(required=False, allow_blank=True, max_length=500)
    branch = serializers.CharField(required=False, allow_blank=True, max_length=200)
    path = serializers.CharField(required=False, allow_blank=True, max_length=300)
    preset = serializers.ChoiceField(choices=Component.Preset.choices, required=False)
    entry_command = serializers.CharField(required=False, allow_blank=True, max_length=300)
    auto_build = serializers.BooleanField(required=False)
    run_as_root = serializers.BooleanField(required=False, help_text="Owners only.")
    managed_by_repository = serializers.BooleanField(
        required=False,
        help_text="Schedules as code: chorus.toml sets schedule, timezone and policies.",
    )


class SampleOut(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    preset = serializers.CharField()


class SampleListApi(ApiView):
    """The built-in sample tasks a component can start from (`source_kind: sample`)."""

    @extend_schema(operation_id="samples_list", responses=responses(SampleOut(many=True)))
    def get(self, request):
        rows = [
            {"key": s.key, "title": s.title, "description": s.description, "preset": s.preset}
            for s in SAMPLES.values()
        ]
        return Response(SampleOut(rows, many=True).data)


class ComponentListApi(ApiListView):
    serializer_class = ComponentOut

    def get_queryset(self):
        project = project_get_for_user(user=self.request.user, slug=self.kwargs["project"])
        return component_list(project=project).select_related("project")

    @extend_schema(
        operation_id="components_list",
        summary="Components of a project",
        responses=list_responses(ComponentOut, 404),
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ComponentCreateApi(ApiView):
    """Create a component from a git URL, a connected GitHub repository or a built-in sample.

    The source is read at once: an unreachable repository, an unknown branch or a path without
    a Dockerfile / Python project is a 400 naming the field.
    """

    @extend_schema(
        operation_id="components_create",
        request=ComponentCreateIn,
        responses=responses(ComponentOut, 400, 403, 404, status=201),
    )
    def post(self, request, project):
        p = project_get_for_user(user=request.user, slug=project, min_role=Role.DEVELOPER)
        data = self.input(ComponentCreateIn)
        connection_id = data.pop("github_connection")
        connection = None
        if connection_id is not None:
            connection = github_connection_get(project=p, pk=connection_id)
        component = services.component_create(
            project=p, actor=request.user, github_connection=connection, **data
        )
        return Response(ComponentOut(component).data, status=status.HTTP_201_CREATED)


class ComponentDetailApi(ApiView):
    @extend_schema(operation_id="components_retrieve", responses=responses(ComponentOut, 404))
    def get(self, request, project, component):
        c = component_get_for_user(user=request.user, project_slug=project, name=component)
        return Response(ComponentOut(c).data)


class ComponentUpdateApi(ApiView):
    """Change some of a component's fields (name and source kind are fixed)."""

    @extend_schema(
        operation_id="components_update",
        request=ComponentUpdateIn,
        responses=responses(ComponentOut, 400, 403, 404),
    )
    def post(self, request, project, component):
        c = component_get_for_user(
            user=request.user, project_slug=project, name=component, min_role=Role.DEVELOPER
        )
        data = self.input(ComponentUpdateIn)
        c = services.component_update(component=c, actor=request.user, **data)
        return Response(ComponentOut(c).data)


class ComponentDeleteApi(ApiView):
    """Delete a component with its builds, deployments (and their schedules) and executions."""

    @extend_schema(
        operation_id="components_destroy",
        request=None,
        responses={204: NO_CONTENT, **errors(403, 404)},
    )
    def post(self, request, project, component):
        c = component_get_for_user(
            user=request.user, project_slug=project, name=component, min_role=Role.DEVELOPER
        )
        services.component_delete(component=c, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
