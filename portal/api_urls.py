"""API root: /api/v1/... (one view per operation), /api/schema/, /api/docs/.

Reads are GET; every write is a POST to a URL that names it (`.../create/`, `.../promote/`),
one DRF view per operation as in the house style.

Ids in paths are bounded (`id` converter) so an absurd number is a 404, not a database error.
"""

from __future__ import annotations

from django.urls import include, path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from components import api as components_api
from deployments.approvals import api as approvals
from deployments.builds import api as builds
from deployments.deploy.api import config, environments, events
from deployments.deploy.api import deployments as deploy
from deployments.executions import api as executions
from observability import api as alerts
from portal.api import projects, tokens
from portal.api.base import NotFoundApi


class IdConverter:
    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(value)


class UsernameConverter:
    # Django's username characters; anything else cannot name a member.
    regex = r"[\w.@+-]{1,150}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value) -> str:
        return str(value)


register_converter(IdConverter, "id")
register_converter(UsernameConverter, "username")

v1 = [
    path("tokens/", tokens.TokenListApi.as_view(), name="tokens"),
    path("tokens/create/", tokens.TokenCreateApi.as_view(), name="token_create"),
    path("tokens/<id:token_id>/revoke/", tokens.TokenRevokeApi.as_view(), name="token_revoke"),
    path("projects/", projects.ProjectListApi.as_view(), name="projects"),
    path("projects/create/", projects.ProjectCreateApi.as_view(), name="project_create"),
    path("projects/<slug:project>/", projects.ProjectDetailApi.as_view(), name="project"),
    path(
        "projects/<slug:project>/settings/approvals/",
        projects.ProjectApprovalSettingsApi.as_view(),
        name="project_approval_settings",
    ),
    path("projects/<slug:project>/members/", projects.MemberListApi.as_view(), name="members"),
    path(
        "projects/<slug:project>/members/add/",
        projects.MemberAddApi.as_view(),
        name="member_add",
    ),
    path(
        "projects/<slug:project>/members/<username:username>/update/",
        projects.MemberUpdateApi.as_view(),
        name="member_update",
    ),
    path(
        "projects/<slug:project>/members/<username:username>/remove/",
        projects.MemberRemoveApi.as_view(),
        name="member_remove",
    ),
    path("samples/", components_api.SampleListApi.as_view(), name="samples"),
]

P = "projects/<slug:project>/"
C = P + "components/<slug:component>/"
v1 += [
    path(P + "components/", components_api.ComponentListApi.as_view(), name="components"),
    path(
        P + "components/create/",
        components_api.ComponentCreateApi.as_view(),
        name="component_create",
    ),
    path(C, components_api.ComponentDetailApi.as_view(), name="component"),
    path(C + "update/", components_api.ComponentUpdateApi.as_view(), name="component_update"),
    path(C + "delete/", components_api.ComponentDeleteApi.as_view(), name="component_delete"),
    # Builds
    path(C + "builds/", builds.BuildListApi.as_view(), name="builds"),
    path(C + "builds/create/", builds.BuildQueueApi.as_view(), name="build_create"),
    path("builds/<id:build_id>/", builds.BuildDetailApi.as_view(), name="build"),
    path("builds/<id:build_id>/logs/", builds.BuildLogApi.as_view(), name="build_logs"),
    path("builds/<id:build_id>/cancel/", builds.BuildCancelApi.as_view(), name="build_cancel"),
    # Environments, deployments, the deploy log
    path("environments/", environments.EnvironmentListApi.as_view(), name="environments"),
    path("schedules/preview/", environments.SchedulePreviewApi.as_view(), name="schedule_preview"),
    path("health/", alerts.HealthApi.as_view(), name="health"),
    path(C + "deployments/", deploy.DeploymentListApi.as_view(), name="deployments"),
    path(C + "events/", events.DeploymentEventListApi.as_view(), name="events"),
]

D = C + "deployments/<slug:env>/"
v1 += [
    path(D, deploy.DeploymentDetailApi.as_view(), name="deployment"),
    path(D + "deploy/", deploy.DeploymentDeployApi.as_view(), name="deploy"),
    path(D + "promote/", deploy.DeploymentPromoteApi.as_view(), name="promote"),
    path(D + "rollback/", deploy.DeploymentRollbackApi.as_view(), name="rollback"),
    path(D + "suspend/", deploy.DeploymentSuspendApi.as_view(), name="suspend"),
    path(D + "resume/", deploy.DeploymentResumeApi.as_view(), name="resume"),
    path(D + "undeploy/", deploy.DeploymentUndeployApi.as_view(), name="undeploy"),
    path(D + "policies/", deploy.DeploymentPoliciesApi.as_view(), name="policies"),
    path(D + "run/", executions.ExecutionRunNowApi.as_view(), name="run"),
    # Executions
    path(C + "executions/", executions.ExecutionListApi.as_view(), name="executions"),
    path(
        "executions/<id:execution_id>/", executions.ExecutionDetailApi.as_view(), name="execution"
    ),
    path(
        "executions/<id:execution_id>/logs/",
        executions.ExecutionLogApi.as_view(),
        name="execution_logs",
    ),
    path(
        "executions/<id:execution_id>/cancel/",
        executions.ExecutionCancelApi.as_view(),
        name="execution_cancel",
    ),
    path(
        "executions/<id:execution_id>/rerun/",
        executions.ExecutionRerunApi.as_view(),
        name="execution_rerun",
    ),
    # Config and secrets per environment
    path(C + "config/<slug:env>/", config.ConfigListApi.as_view(), name="config"),
    path(C + "config/<slug:env>/set/", config.ConfigSetApi.as_view(), name="config_set"),
    path(C + "config/<slug:env>/unset/", config.ConfigUnsetApi.as_view(), name="config_unset"),
    path(
        C + "config/<slug:env>/contract/",
        config.ConfigContractApi.as_view(),
        name="config_contract",
    ),
    # Alerts: channels and deliveries per project, rules per component
    path(P + "alerts/channels/", alerts.ChannelListApi.as_view(), name="alert_channels"),
    path(
        P + "alerts/channels/create/",
        alerts.ChannelCreateApi.as_view(),
        name="alert_channel_create",
    ),
    path(
        P + "alerts/channels/<id:channel_id>/delete/",
        alerts.ChannelDeleteApi.as_view(),
        name="alert_channel_delete",
    ),
    path(P + "alerts/deliveries/", alerts.DeliveryListApi.as_view(), name="alert_deliveries"),
    path(C + "alerts/rules/", alerts.RuleListApi.as_view(), name="alert_rules"),
    path(C + "alerts/rules/create/", alerts.RuleCreateApi.as_view(), name="alert_rule_create"),
    path(
        C + "alerts/rules/<id:rule_id>/delete/",
        alerts.RuleDeleteApi.as_view(),
        name="alert_rule_delete",
    ),
]

A = P + "approvals/"
v1 += [
    # Approval requests for production changes
    path(A, approvals.ApprovalListApi.as_view(), name="approvals"),
    path(A + "create/", approvals.ApprovalCreateApi.as_view(), name="approval_create"),
    path(A + "<id:approval_id>/", approvals.ApprovalDetailApi.as_view(), name="approval"),
    path(
        A + "<id:approval_id>/approve/",
        approvals.ApprovalApproveApi.as_view(),
        name="approval_approve",
    ),
    path(
        A + "<id:approval_id>/reject/",
        approvals.ApprovalRejectApi.as_view(),
        name="approval_reject",
    ),
    path(
        A + "<id:approval_id>/withdraw/",
        approvals.ApprovalWithdrawApi.as_view(),
        name="approval_withdraw",
    ),
    path(
        A + "<id:approval_id>/refresh/",
        approvals.ApprovalRefreshApi.as_view(),
        name="approval_refresh",
    ),
]

urlpatterns = [
    path("v1/", include((v1, "api"), namespace="api")),
    re_path(r"^v1/", NotFoundApi.as_view(), name="api_not_found"),
    # The schema describes the API, not anyone's data: readable without logging in, so the docs
    # page works for a new user who then authorizes with a token (or is logged in already).
    path(
        "schema/",
        SpectacularAPIView.as_view(permission_classes=[AllowAny]),
        name="api_schema",
    ),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="api_schema", permission_classes=[AllowAny]),
        name="api_docs",
    ),
]
