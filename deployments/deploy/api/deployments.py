"""Deployments through the API: list, detail, deploy, promote, rollback, policies, suspend,
resume, undeploy (serializers in serializers.py). Every write calls deployments.deploy.services."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.db.models import F
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from deployments.api_common import component_for
from deployments.deploy.api.serializers import (
    DeployIn,
    DeploymentOut,
    PoliciesUpdateIn,
    PromoteIn,
    RollbackIn,
)
from deployments.deploy.services.lifecycle import (
    deployment_deploy,
    deployment_promote,
    deployment_rollback,
)
from deployments.deploy.services.rules import check_environment_role
from deployments.deploy.services.state import (
    deployment_resume,
    deployment_suspend,
    deployment_undeploy,
    deployment_update_policies,
)
from deployments.environments import environment_get, promotion_source
from deployments.models import Build, Deployment
from deployments.payloads import KEEP
from portal.api.base import ApiListView, ApiView, list_responses, responses


# --- helpers ----------------------------------------------------------------------------------
def _payload_in(data: dict):
    """The payload a request sets (JSON data, given as text so a JSON string stays one)."""
    if "payload" not in data:
        return KEEP
    return json.dumps(data["payload"])


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
