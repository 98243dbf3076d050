"""Approval requests through the API: /api/v1/projects/<p>/approvals/… (list, detail, create,
approve, reject, withdraw, refresh). Every write calls deployments.approvals.services."""

from __future__ import annotations

import json

import django_filters
from django.core.exceptions import PermissionDenied, ValidationError
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from components.selectors import component_get_for_user
from deployments.approvals.basis import staleness
from deployments.approvals.models import ApprovalRequest
from deployments.approvals.selectors import approval_get_for_user, approvals_for_project
from deployments.approvals.services import (
    approval_request_approve,
    approval_request_create,
    approval_request_refresh,
    approval_request_reject,
    approval_request_withdraw,
)
from deployments.deploy.api.serializers import PoliciesIn
from deployments.environments import environment_get
from deployments.models import Build
from deployments.payloads import KEEP
from portal.api.base import ApiListView, ApiView, InputSerializer, list_responses, responses
from portal.roles import Role
from portal.selectors import project_get_for_user, project_role


class DiffRowOut(serializers.Serializer):
    label = serializers.CharField()
    before = serializers.CharField(help_text="The environment now (when requested).")
    after = serializers.CharField(help_text="The environment once the request is applied.")
    changed = serializers.BooleanField()


class ApprovalOut(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.CharField(source="component.project.slug")
    component = serializers.CharField(source="component.name")
    environment = serializers.CharField(source="environment.slug")
    source_environment = serializers.CharField(
        source="source_environment.slug", allow_null=True, default=None
    )
    action = serializers.ChoiceField(choices=ApprovalRequest.Action.choices)
    summary = serializers.CharField()
    build = serializers.IntegerField(source="build_id", allow_null=True)
    params = serializers.JSONField(
        help_text="What is applied: schedule, timezone, policies, payload (payload_set)."
    )
    diff = DiffRowOut(many=True)
    comment = serializers.CharField(allow_blank=True)
    requested_by = serializers.CharField(
        source="requested_by.username", allow_null=True, default=None
    )
    status = serializers.ChoiceField(choices=ApprovalRequest.Status.choices)
    stale = serializers.SerializerMethodField(
        help_text="Why a pending request no longer matches the current state; empty when it does."
    )
    revision = serializers.IntegerField(help_text="Bumped by each refresh.")
    decided_by = serializers.CharField(source="decided_by.username", allow_null=True, default=None)
    decided_at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField(allow_blank=True, help_text="Why it was rejected.")
    deployment = serializers.IntegerField(source="deployment_id", allow_null=True)
    created_at = serializers.DateTimeField()

    @extend_schema_field(serializers.CharField(allow_blank=True))
    def get_stale(self, a) -> str:
        return staleness(a) if a.is_pending else ""


class ApprovalCreateIn(InputSerializer):
    component = serializers.SlugField(max_length=100)
    environment = serializers.SlugField(
        default="prod", help_text="The production environment to change."
    )
    action = serializers.ChoiceField(choices=ApprovalRequest.Action.choices)
    source_env = serializers.SlugField(
        required=False, help_text="Promote: default the environment just before the target."
    )
    build = serializers.IntegerField(
        required=False, min_value=1, max_value=2**62, help_text="Rollback and deploy: the build."
    )
    schedule = serializers.CharField(required=False, max_length=100)
    timezone = serializers.CharField(required=False, max_length=64)
    policies = PoliciesIn(required=False)
    payload = serializers.JSONField(required=False, allow_null=True)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ApproveIn(InputSerializer):
    revision = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**31 - 1,
        help_text="The revision you reviewed; refused if the request was refreshed since.",
    )


class RejectIn(InputSerializer):
    reason = serializers.CharField(max_length=2000, help_text="Why; the requester reads it.")


class ApprovalFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ApprovalRequest.Status.choices)
    component = django_filters.CharFilter(field_name="component__name")

    class Meta:
        model = ApprovalRequest
        fields = ["status", "component"]


def _out(a: ApprovalRequest) -> dict:
    a = approvals_for_project(project=a.component.project).get(pk=a.pk)
    return ApprovalOut(a).data


class ApprovalListApi(ApiListView):
    """Approval requests of a project, newest first (any member may read them)."""

    serializer_class = ApprovalOut
    filter_backends = [DjangoFilterBackend]
    queryset = ApprovalRequest.objects.none()
    filterset_class = ApprovalFilter

    def get_queryset(self):
        p = project_get_for_user(user=self.request.user, slug=self.kwargs["project"])
        return approvals_for_project(project=p)

    @extend_schema(operation_id="approvals_list", responses=list_responses(ApprovalOut, 400, 404))
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ApprovalDetailApi(ApiView):
    @extend_schema(operation_id="approvals_retrieve", responses=responses(ApprovalOut, 404))
    def get(self, request, project, approval_id):
        a = approval_get_for_user(user=request.user, project_slug=project, pk=approval_id)
        return Response(ApprovalOut(a).data)


class ApprovalCreateApi(ApiView):
    """Ask the owners to apply a promote, rollback, deploy or policy change in a production
    environment (projects with "Production changes need approval" on; developers and owners)."""

    @extend_schema(
        operation_id="approvals_create",
        request=ApprovalCreateIn,
        responses=responses(ApprovalOut, 400, 403, 404, status=201),
    )
    def post(self, request, project):
        p = project_get_for_user(user=request.user, slug=project, min_role=Role.DEVELOPER)
        data = self.input(ApprovalCreateIn)
        c = component_get_for_user(user=request.user, project_slug=p.slug, name=data["component"])
        build = None
        if "build" in data:
            build = Build.objects.filter(component=c, pk=data["build"]).first()
            if build is None:
                raise ValidationError({"build": f"{c.name} has no build #{data['build']}."})
        a = approval_request_create(
            component=c,
            environment=environment_get(slug=data["environment"]),
            action=data["action"],
            actor=request.user,
            comment=data.get("comment", ""),
            source_environment=(
                environment_get(slug=data["source_env"]) if "source_env" in data else None
            ),
            build=build,
            schedule=data.get("schedule"),
            timezone=data.get("timezone"),
            policies=data.get("policies") or None,
            payload=json.dumps(data["payload"]) if "payload" in data else KEEP,
        )
        return Response(_out(a), status=status.HTTP_201_CREATED)


def _decision(name: str, service, doc: str, body=None, *, owners: bool = False):
    class View(ApiView):
        @extend_schema(
            operation_id=f"approvals_{name}",
            summary=doc,
            request=body,
            responses=responses(ApprovalOut, 400, 403, 404),
        )
        def post(self, request, project, approval_id):
            a = approval_get_for_user(user=request.user, project_slug=project, pk=approval_id)
            if owners:
                # The role before the input: a developer hears 403 whatever the body says.
                if project_role(user=request.user, project=a.component.project) != Role.OWNER:
                    raise PermissionDenied(f"Only project owners can {name} requests.")
            data = self.input(body) if body is not None else {}
            return Response(_out(service(approval=a, actor=request.user, **data)))

    View.__name__ = View.__qualname__ = f"Approval{name.capitalize()}Api"
    return View


ApprovalApproveApi = _decision(
    "approve",
    approval_request_approve,
    "Approve and apply a pending request (owners; refused when stale)",
    ApproveIn,
    owners=True,
)
ApprovalRejectApi = _decision(
    "reject",
    approval_request_reject,
    "Reject a pending request with a reason (owners)",
    RejectIn,
    owners=True,
)
ApprovalWithdrawApi = _decision(
    "withdraw", approval_request_withdraw, "Withdraw your own pending request"
)
ApprovalRefreshApi = _decision(
    "refresh",
    approval_request_refresh,
    "Re-base a pending request on the current state (new diff and revision)",
)
