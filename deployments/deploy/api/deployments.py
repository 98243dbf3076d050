"""Environments, deployments (deploy, promote, rollback, suspend, resume, undeploy, policies)
and the deploy log, through the API. Every write calls deployments.deploy.services."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.db.models import F
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from deployments.api_common import ScheduleFields, choice_field, component_for
from deployments.deploy.services.lifecycle import (
    deployment_deploy,
    deployment_promote,
    deployment_rollback,
)
from deployments.deploy.services.rules import POLICY_FIELDS, check_environment_role
from deployments.deploy.services.state import (
    deployment_resume,
    deployment_suspend,
    deployment_undeploy,
    deployment_update_policies,
)
from deployments.environments import environment_get, promotion_source
from deployments.models import Build, CatchupPolicy, ConcurrencyPolicy, Deployment, DstRule
from deployments.payloads import KEEP
from deployments.schedules.preview import next_runs
from portal.api.base import (
    ApiListView,
    ApiView,
    InputSerializer,
    list_responses,
    responses,
)


# --- output -----------------------------------------------------------------------------------
class PoliciesOut(serializers.Serializer):
    timeout_seconds = serializers.IntegerField()
    max_retries = serializers.IntegerField()
    retry_delay_seconds = serializers.IntegerField()
    concurrency_policy = serializers.ChoiceField(choices=ConcurrencyPolicy.choices)
    starting_deadline_seconds = serializers.IntegerField()
    catchup_policy = serializers.ChoiceField(choices=CatchupPolicy.choices)
    catchup_window_seconds = serializers.IntegerField()
    keep_successes = serializers.IntegerField()
    keep_failures = serializers.IntegerField()
    keep_days = serializers.IntegerField()
    dst_rule = serializers.ChoiceField(choices=DstRule.choices)


class DeploymentOut(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.CharField(source="component.project.slug")
    component = serializers.CharField(source="component.name")
    environment = serializers.CharField(source="environment.slug")
    status = serializers.ChoiceField(choices=Deployment.Status.choices)
    done = serializers.BooleanField(
        source="is_done", help_text="A one-off (@at) deployment that has run: it fires no more."
    )
    schedule = serializers.CharField()
    schedule_description = serializers.SerializerMethodField()
    timezone = serializers.CharField()
    next_run = serializers.SerializerMethodField(
        help_text="The next scheduled tick (UTC); null when undeployed or done."
    )
    build = serializers.IntegerField(source="build_id")
    short_sha = serializers.CharField(source="build.short_sha")
    image_ref = serializers.CharField(source="build.image_ref")
    image_digest = serializers.CharField(source="build.image_digest")
    policies = serializers.SerializerMethodField()
    managed_fields = serializers.ListField(
        source="managed",
        child=serializers.CharField(),
        help_text="Fields set by the component's chorus.toml (schedules as code): read-only "
        "while the component is managed by the repository.",
    )
    managed_commit = serializers.SerializerMethodField(
        help_text="The commit whose chorus.toml set managed_fields; null when none are."
    )
    config_revision = serializers.IntegerField()
    payload = serializers.JSONField(
        allow_null=True, help_text="What every scheduled run gets in CHORUS_PAYLOAD."
    )
    deployed_by = serializers.CharField(
        source="deployed_by.username", allow_null=True, default=None
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(serializers.CharField())
    def get_schedule_description(self, d) -> str:
        try:
            return d.parsed_schedule().describe()
        except ValidationError:
            return ""

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_next_run(self, d) -> str | None:
        if d.status == Deployment.Status.UNDEPLOYED or d.is_done:
            return None
        try:
            run = next_runs(d.parsed_schedule(), d.timezone, n=1)[0]
        except (ValidationError, IndexError, ValueError):
            return None
        return serializers.DateTimeField().to_representation(run.at_utc)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_managed_commit(self, d) -> str | None:
        return d.managed_commit if d.managed else None

    @staticmethod
    def _policies(d) -> dict:
        return {f: getattr(d, f) for f in POLICY_FIELDS}

    @extend_schema_field(PoliciesOut)
    def get_policies(self, d) -> dict:
        return PoliciesOut(self._policies(d)).data


# --- input ------------------------------------------------------------------------------------
class PoliciesIn(InputSerializer):
    timeout_seconds = serializers.IntegerField(required=False, min_value=1)
    max_retries = serializers.IntegerField(required=False, min_value=0)
    retry_delay_seconds = serializers.IntegerField(required=False, min_value=1)
    concurrency_policy = choice_field(ConcurrencyPolicy.choices, required=False)
    starting_deadline_seconds = serializers.IntegerField(required=False, min_value=1)
    catchup_policy = choice_field(CatchupPolicy.choices, required=False)
    catchup_window_seconds = serializers.IntegerField(required=False, min_value=1)
    keep_successes = serializers.IntegerField(required=False, min_value=1)
    keep_failures = serializers.IntegerField(required=False, min_value=1)
    keep_days = serializers.IntegerField(required=False, min_value=1)
    dst_rule = choice_field(DstRule.choices, required=False)


def _payload_in(data: dict):
    """The payload a request sets (JSON data, given as text so a JSON string stays one)."""
    if "payload" not in data:
        return KEEP
    return json.dumps(data["payload"])


class DeployIn(ScheduleFields, InputSerializer):
    build = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2**62,
        help_text="Build id; default: the component's latest succeeded build.",
    )
    schedule = serializers.CharField(
        required=False,
        max_length=100,
        help_text='5-field cron ("0 2 * * *"), a macro (@daily) or "@every 10m". Required '
        "unless the component's chorus.toml sets it (schedules as code).",
    )
    timezone = serializers.CharField(
        required=False,
        max_length=64,
        help_text="IANA name; default: chorus.toml's when it sets one, else UTC.",
    )
    policies = PoliciesIn(required=False)
    payload = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="JSON every scheduled run gets in CHORUS_PAYLOAD (at most 64 KiB); null "
        "clears it; left out: the deployment keeps its own.",
    )
    config = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=32768),
        required=False,
        help_text="{KEY: value} set in the environment first, in the same transaction (keys "
        "declared secret in chorus.toml are stored as secrets; declared types are checked). "
        "Refused with 400 while a key the build declares required has no value.",
    )


class PromoteIn(ScheduleFields, InputSerializer):
    source_env = serializers.SlugField(
        required=False, help_text="Default: the environment just before the target."
    )
    schedule = serializers.CharField(
        required=False, max_length=100, help_text="Default: the target's, or the source's."
    )
    timezone = serializers.CharField(required=False, max_length=64)
    policies = PoliciesIn(required=False)
    payload = serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="JSON every scheduled run gets in CHORUS_PAYLOAD (at most 64 KiB); null "
        "clears it; left out: the target's, or the source's.",
    )
    config = serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=32768),
        required=False,
        help_text="{KEY: value} set in the target first (configuration is never copied), in the same transaction (keys "
        "declared secret in chorus.toml are stored as secrets; declared types are checked). "
        "Refused with 400 while a key the build declares required has no value.",
    )


class RollbackIn(InputSerializer):
    build = serializers.IntegerField(min_value=1, max_value=2**62)


class PoliciesUpdateIn(PoliciesIn):
    pass


# --- helpers ----------------------------------------------------------------------------------
def _deployments():
    return Deployment.objects.select_related(
        "component__project", "environment", "build", "deployed_by"
    )


def deployment_for(component, environment) -> Deployment:
    try:
        return _deployments().get(component=component, environment=environment)
    except Deployment.DoesNotExist:
        raise Http404(f"{component.name} is not deployed in {environment.name}.") from None


def _build_of(component, build_id: int, field: str = "build") -> Build:
    build = Build.objects.filter(component=component, pk=build_id).first()
    if build is None:
        raise ValidationError({field: f"{component.name} has no build #{build_id}."})
    return build


def _latest_succeeded(component) -> Build:
    build = (
        Build.objects.filter(component=component, status=Build.Status.SUCCEEDED)
        .order_by(F("finished_at").desc(nulls_last=True), "-id")
        .first()
    )
    if build is None:
        raise ValidationError(
            {"build": f"{component.name} has no succeeded build yet: build it first."}
        )
    return build


def _out(deployment: Deployment) -> dict:
    return DeploymentOut(_deployments().get(pk=deployment.pk)).data


class _EnvWrite(ApiView):
    """Resolve component + environment and check the role for changing that environment first,
    so a viewer hears 403 whatever the body says."""

    action = "deploy"

    def target(self, request, project, component, env):
        c = component_for(request, project, component)
        environment = environment_get(slug=env)
        check_environment_role(
            actor=request.user, component=c, environment=environment, action=self.action
        )
        return c, environment


# --- views ------------------------------------------------------------------------------------
class DeploymentListApi(ApiListView):
    serializer_class = DeploymentOut

    def get_queryset(self):
        c = component_for(self.request, self.kwargs["project"], self.kwargs["component"])
        return _deployments().filter(component=c).order_by("environment__order")

    @extend_schema(
        operation_id="deployments_list",
        summary="A component's deployments, one per environment",
        responses=list_responses(DeploymentOut, 404),
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class DeploymentDetailApi(ApiView):
    @extend_schema(operation_id="deployments_retrieve", responses=responses(DeploymentOut, 404))
    def get(self, request, project, component, env):
        c = component_for(request, project, component)
        return Response(DeploymentOut(deployment_for(c, environment_get(slug=env))).data)


class DeploymentDeployApi(_EnvWrite):
    """Deploy a succeeded build to an environment on a schedule (creates or updates the
    deployment and its beat schedule in one transaction)."""

    @extend_schema(
        operation_id="deployments_deploy",
        request=DeployIn,
        responses=responses(DeploymentOut, 400, 403, 404),
    )
    def post(self, request, project, component, env):
        c, environment = self.target(request, project, component, env)
        data = self.input(DeployIn)
        build = _build_of(c, data["build"]) if "build" in data else _latest_succeeded(c)
        d = deployment_deploy(
            component=c,
            environment=environment,
            build=build,
            schedule=data.get("schedule", ""),
            timezone=data.get("timezone"),
            actor=request.user,
            policies=data.get("policies") or None,
            payload=_payload_in(data),
            config=data.get("config") or None,
        )
        return Response(_out(d))


class DeploymentPromoteApi(_EnvWrite):
    """Promote the exact image deployed in the source environment to this (target) one."""

    action = "promote"

    @extend_schema(
        operation_id="deployments_promote",
        request=PromoteIn,
        responses=responses(DeploymentOut, 400, 403, 404),
    )
    def post(self, request, project, component, env):
        c, target = self.target(request, project, component, env)
        data = self.input(PromoteIn)
        if "source_env" in data:
            source = environment_get(slug=data["source_env"])
        else:
            source = promotion_source(environment=target)
            if source is None:
                raise ValidationError(
                    {"source_env": f"{target.name} is the first environment: nothing before it."}
                )
        d = deployment_promote(
            component=c,
            source_env=source,
            target_env=target,
            actor=request.user,
            schedule=data.get("schedule"),
            timezone=data.get("timezone"),
            policies=data.get("policies") or None,
            payload=_payload_in(data),
            config=data.get("config") or None,
        )
        return Response(_out(d))


class DeploymentRollbackApi(_EnvWrite):
    """Deploy an earlier succeeded build again, keeping schedule, timezone and policies."""

    action = "roll back"

    @extend_schema(
        operation_id="deployments_rollback",
        request=RollbackIn,
        responses=responses(DeploymentOut, 400, 403, 404),
    )
    def post(self, request, project, component, env):
        c, environment = self.target(request, project, component, env)
        data = self.input(RollbackIn)
        d = deployment_for(c, environment)
        d = deployment_rollback(deployment=d, build=_build_of(c, data["build"]), actor=request.user)
        return Response(_out(d))


class DeploymentPoliciesApi(_EnvWrite):
    """Change timeout, retries, concurrency, deadline, catch-up or retention."""

    action = "change policies"

    @extend_schema(
        operation_id="deployments_policies",
        request=PoliciesUpdateIn,
        responses=responses(DeploymentOut, 400, 403, 404),
    )
    def post(self, request, project, component, env):
        c, environment = self.target(request, project, component, env)
        data = self.input(PoliciesUpdateIn)
        d = deployment_update_policies(
            deployment=deployment_for(c, environment), actor=request.user, policies=data
        )
        return Response(_out(d))


def _status_view(name: str, service, doc: str):
    class View(_EnvWrite):
        action = name

        @extend_schema(
            operation_id=f"deployments_{name}",
            summary=doc,
            request=None,
            responses=responses(DeploymentOut, 400, 403, 404),
        )
        def post(self, request, project, component, env):
            c, environment = self.target(request, project, component, env)
            d = service(deployment=deployment_for(c, environment), actor=request.user)
            return Response(_out(d))

    View.__name__ = View.__qualname__ = f"Deployment{name.capitalize()}Api"
    return View


DeploymentSuspendApi = _status_view(
    "suspend", deployment_suspend, "Suspend: ticks are recorded as skipped"
)
DeploymentResumeApi = _status_view("resume", deployment_resume, "Resume a suspended deployment")
DeploymentUndeployApi = _status_view(
    "undeploy",
    deployment_undeploy,
    "Undeploy: remove the schedule, keep executions and history",
)
