"""Config variables and secrets of a component per environment, through the API.

Secrets are write-only: a list shows `is_secret: true` and the value "••••", never the value.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from deployments.api_common import MASK, component_for
from deployments.deploy.services.config import config_delete, config_set
from deployments.deploy.services.rules import check_environment_role
from deployments.environments import environment_get
from deployments.models import ConfigVar
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
