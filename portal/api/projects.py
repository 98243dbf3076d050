"""Projects and their members: /api/v1/projects/…"""

from __future__ import annotations

from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from portal import services
from portal.models import Membership
from portal.roles import Role
from portal.selectors import (
    project_get_for_user,
    project_members,
    project_role,
    projects_for_user,
    require_role,
)

from .base import (
    NO_CONTENT,
    ApiListView,
    ApiView,
    InputSerializer,
    errors,
    list_responses,
    responses,
)


class ProjectOut(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    role = serializers.ChoiceField(choices=Role.choices, help_text="Your role in the project.")
    production_approval = serializers.BooleanField(
        help_text="Developers' changes to production environments become approval requests."
    )
    approval_self_allowed = serializers.BooleanField(
        help_text="A requester may approve their own request."
    )


class ApprovalSettingsIn(InputSerializer):
    production_approval = serializers.BooleanField(required=False)
    approval_self_allowed = serializers.BooleanField(required=False)


class ProjectCreateIn(InputSerializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    slug = serializers.SlugField(
        required=False,
        allow_blank=True,
        default="",
        max_length=60,
        help_text="The project's address; made from the name when empty.",
    )


class MemberOut(serializers.Serializer):
    username = serializers.CharField(source="user.username")
    role = serializers.ChoiceField(choices=Role.choices)
    created_at = serializers.DateTimeField()


class MemberAddIn(InputSerializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.VIEWER)


class MemberUpdateIn(InputSerializer):
    role = serializers.ChoiceField(choices=Role.choices)


def _project_out(project, user) -> dict:
    project.role = project_role(user=user, project=project).value
    return ProjectOut(project).data


class ProjectListApi(ApiListView):
    serializer_class = ProjectOut

    def get_queryset(self):
        mine = Membership.objects.filter(project=OuterRef("pk"), user=self.request.user)
        return (
            projects_for_user(user=self.request.user)
            .annotate(role=Subquery(mine.values("role")[:1]))
            .order_by("name")
        )

    @extend_schema(
        operation_id="projects_list",
        summary="Projects you are a member of",
        responses=list_responses(ProjectOut),
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ProjectCreateApi(ApiView):
    @extend_schema(
        operation_id="projects_create",
        summary="Create a project (you become its owner)",
        request=ProjectCreateIn,
        responses=responses(ProjectOut, 400, status=201),
    )
    def post(self, request):
        data = self.input(ProjectCreateIn)
        project = services.project_create(actor=request.user, **data)
        return Response(_project_out(project, request.user), status=status.HTTP_201_CREATED)


class ProjectDetailApi(ApiView):
    @extend_schema(
        operation_id="projects_retrieve",
        summary="A project",
        responses=responses(ProjectOut, 404),
    )
    def get(self, request, project):
        p = project_get_for_user(user=request.user, slug=project)
        return Response(_project_out(p, request.user))


class ProjectApprovalSettingsApi(ApiView):
    @extend_schema(
        operation_id="projects_approvals_settings",
        summary="Turn approvals for production changes on or off (owners only)",
        request=ApprovalSettingsIn,
        responses=responses(ProjectOut, 400, 403, 404),
    )
    def post(self, request, project):
        p = project_get_for_user(user=request.user, slug=project)
        require_role(user=request.user, project=p, min_role=Role.OWNER)
        data = self.input(ApprovalSettingsIn)
        p = services.project_set_approvals(
            project=p,
            actor=request.user,
            production_approval=data.get("production_approval", p.production_approval),
            approval_self_allowed=data.get("approval_self_allowed", p.approval_self_allowed),
        )
        return Response(_project_out(p, request.user))


class MemberListApi(ApiListView):
    serializer_class = MemberOut

    def get_queryset(self):
        p = project_get_for_user(user=self.request.user, slug=self.kwargs["project"])
        return project_members(project=p)

    @extend_schema(
        operation_id="members_list",
        summary="Members of a project and their roles",
        responses={200: MemberOut(many=True), **errors(404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class MemberAddApi(ApiView):
    @extend_schema(
        operation_id="members_create",
        summary="Add a member (owners only)",
        request=MemberAddIn,
        responses=responses(MemberOut, 400, 403, 404, status=201),
    )
    def post(self, request, project):
        p = project_get_for_user(user=request.user, slug=project)
        # The role before the input: a member who may not add anyone learns nothing from it.
        require_role(user=request.user, project=p, min_role=Role.OWNER)
        data = self.input(MemberAddIn)
        m = services.membership_add(
            project=p, actor=request.user, username=data["username"], role=data["role"]
        )
        return Response(MemberOut(m).data, status=status.HTTP_201_CREATED)


def _membership(request, project_slug: str, username: str) -> Membership:
    p = project_get_for_user(user=request.user, slug=project_slug)
    return get_object_or_404(
        Membership.objects.select_related("user", "project"), project=p, user__username=username
    )


class MemberUpdateApi(ApiView):
    @extend_schema(
        operation_id="members_update",
        summary="Change a member's role (owners only)",
        request=MemberUpdateIn,
        responses=responses(MemberOut, 400, 403, 404),
    )
    def post(self, request, project, username):
        m = _membership(request, project, username)
        require_role(user=request.user, project=m.project, min_role=Role.OWNER)
        data = self.input(MemberUpdateIn)
        m = services.membership_change_role(membership=m, actor=request.user, role=data["role"])
        return Response(MemberOut(m).data)


class MemberRemoveApi(ApiView):
    @extend_schema(
        operation_id="members_destroy",
        summary="Remove a member (owners only)",
        request=None,
        responses={204: NO_CONTENT, **errors(400, 403, 404)},
    )
    def post(self, request, project, username):
        m = _membership(request, project, username)
        services.membership_remove(membership=m, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
