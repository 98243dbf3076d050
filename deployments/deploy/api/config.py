"""Config variables and secrets of a component per environment, and the config contract
(the settings a build's chorus.toml declares, against what the environment has set), through
the API.

Secrets are write-only: a list shows `is_secret: true` and the value "••••", never the value.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from deployments.api_common import MASK, component_for
from deployments.deploy.config_selectors import contract_rows
from deployments.deploy.services.config import config_delete, config_set
from deployments.deploy.services.contract import contract_build
from deployments.deploy.services.rules import check_environment_role
from deployments.environments import environment_get
from deployments.models import Build, ConfigVar
from portal.api.base import NO_CONTENT, ApiListView, ApiView, InputSerializer, errors, responses


class ConfigVarOut(serializers.Serializer):
    key = serializers.CharField()
    value = serializers.SerializerMethodField(help_text=f'Plain values only; secrets: "{MASK}".')
    is_secret = serializers.BooleanField()
    updated_by = serializers.CharField(source="updated_by.username", allow_null=True, default=None)
    updated_at = serializers.DateTimeField()

    def get_value(self, var) -> str:
        return MASK if var.is_secret else var.value


class ConfigSetIn(InputSerializer):
    key = serializers.CharField(max_length=200)
    value = serializers.CharField(allow_blank=True, trim_whitespace=False)
    is_secret = serializers.BooleanField(default=False)


class ConfigUnsetIn(InputSerializer):
    key = serializers.CharField(max_length=200)


class ConfigListApi(ApiListView):
    serializer_class = ConfigVarOut

    def get_queryset(self):
        c = component_for(self.request, self.kwargs["project"], self.kwargs["component"])
        environment = environment_get(slug=self.kwargs["env"])
        return (
            ConfigVar.objects.filter(component=c, environment=environment)
            .defer("value_encrypted")
            .select_related("updated_by")
            .order_by("key")
        )

    @extend_schema(
        operation_id="config_list",
        summary="Variables and secrets of an environment (secret values never returned)",
        responses={200: ConfigVarOut(many=True), **errors(404)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class _ConfigWrite(ApiView):
    def target(self, request, project, component, env):
        c = component_for(request, project, component)
        environment = environment_get(slug=env)
        check_environment_role(
            actor=request.user, component=c, environment=environment, action="change config"
        )
        return c, environment


class ConfigSetApi(_ConfigWrite):
    """Create or replace a variable. With `is_secret` it is stored encrypted and never shown."""

    @extend_schema(
        operation_id="config_set",
        request=ConfigSetIn,
        responses=responses(ConfigVarOut, 400, 403, 404),
    )
    def post(self, request, project, component, env):
        c, environment = self.target(request, project, component, env)
        data = self.input(ConfigSetIn)
        var = config_set(
            component=c,
            environment=environment,
            key=data["key"],
            value=data["value"],
            is_secret=data["is_secret"],
            actor=request.user,
        )
        return Response(ConfigVarOut(var).data)


class ConfigUnsetApi(_ConfigWrite):
    @extend_schema(
        operation_id="config_unset",
        request=ConfigUnsetIn,
        responses={204: NO_CONTENT, **errors(400, 403, 404)},
    )
    def post(self, request, project, component, env):
        c, environment = self.target(request, project, component, env)
        data = self.input(ConfigUnsetIn)
        config_delete(component=c, environment=environment, key=data["key"], actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- the contract -----------------------------------------------------------------------------
class SettingOut(serializers.Serializer):
    key = serializers.CharField()
    description = serializers.CharField(source="declaration.description")
    required = serializers.BooleanField(source="declaration.required")
    default = serializers.CharField(source="declaration.default", allow_null=True)
    secret = serializers.BooleanField(source="declaration.secret")
    type = serializers.CharField(source="declaration.type")
    status = serializers.ChoiceField(
        choices=["set", "missing", "default", "unset"],
        help_text="set; missing (required, no value: deploy and promote are refused); default "
        "(the declared default reaches runs); unset (optional, no default).",
    )
    value = serializers.SerializerMethodField(
        help_text=f'The plain value when set; "{MASK}" for a secret; null when not set.'
    )

    def get_value(self, row) -> str | None:
        return (MASK if row.is_secret else row.value) if row.is_set else None


class ContractOut(serializers.Serializer):
    environment = serializers.CharField()
    build = serializers.IntegerField(
        allow_null=True,
        help_text="The build whose chorus.toml this is: ?build=, else the one deployed in the "
        "environment, else the one a promotion would bring, else the newest succeeded one.",
    )
    settings = SettingOut(many=True)
    missing = serializers.ListField(
        child=serializers.CharField(), help_text="Required keys without a value here."
    )
    undeclared = serializers.ListField(
        child=serializers.CharField(), help_text="Keys set here that the build does not declare."
    )


class ContractQueryIn(serializers.Serializer):
    build = serializers.IntegerField(min_value=1, max_value=2**62, required=False)


class ConfigContractApi(ApiView):
    """The settings a build declares in chorus.toml, each with its state in this environment."""

    @extend_schema(
        operation_id="config_contract",
        parameters=[ContractQueryIn],
        responses=responses(ContractOut, 400, 404),
    )
    def get(self, request, project, component, env):
        c = component_for(request, project, component)
        environment = environment_get(slug=env)
        q = self.query(ContractQueryIn)
        if "build" in q:
            build = Build.objects.filter(component=c, pk=q["build"]).first()
            if build is None:
                raise ValidationError({"build": [f"{c.name} has no build #{q['build']}."]})
        else:
            build = contract_build(component=c, environment=environment)
        rows = contract_rows(component=c, environment=environment, build=build)
        declared = {r.key for r in rows}
        undeclared = (
            ConfigVar.objects.filter(component=c, environment=environment)
            .exclude(key__in=declared)
            .order_by("key")
            .values_list("key", flat=True)
        )
        return Response(
            ContractOut(
                {
                    "environment": environment.slug,
                    "build": build.pk if build else None,
                    "settings": rows,
                    "missing": [r.key for r in rows if r.status == "missing"],
                    "undeclared": list(undeclared),
                }
            ).data
        )
