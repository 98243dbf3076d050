"""The deployments API's serializers: what a deployment looks like (DeploymentOut) and what
deploy, promote, rollback and policies take. Deploy and promote share their `payload` and
`config` fields through two small factories, each with its own help text in the schema."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from deployments.api_common import ScheduleFields, choice_field
from deployments.deploy.services.rules import POLICY_FIELDS
from deployments.models import CatchupPolicy, ConcurrencyPolicy, Deployment, DstRule
from deployments.schedules.preview import next_runs
from portal.api.base import InputSerializer


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


def payload_field(*, left_out: str) -> serializers.JSONField:
    """The `payload` of deploy and promote; `left_out` says what a request without it keeps."""
    return serializers.JSONField(
        required=False,
        allow_null=True,
        help_text="JSON every scheduled run gets in CHORUS_PAYLOAD (at most 64 KiB); null "
        f"clears it; left out: {left_out}",
    )


def config_field(*, set_in: str) -> serializers.DictField:
    """The `config` of deploy and promote; `set_in` says where the values go first."""
    return serializers.DictField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=32768),
        required=False,
        help_text=f"{{KEY: value}} set in {set_in}, in the same transaction (keys declared "
        "secret in chorus.toml are stored as secrets; declared types are checked). Refused "
        "with 400 while a key the build declares required has no value.",
    )


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
    payload = payload_field(left_out="the deployment keeps its own.")
    config = config_field(set_in="the environment first")


class PromoteIn(ScheduleFields, InputSerializer):
    source_env = serializers.SlugField(
        required=False, help_text="Default: the environment just before the target."
    )
    schedule = serializers.CharField(
        required=False, max_length=100, help_text="Default: the target's, or the source's."
    )
    timezone = serializers.CharField(required=False, max_length=64)
    policies = PoliciesIn(required=False)
    payload = payload_field(left_out="the target's, or the source's.")
    config = config_field(set_in="the target first (configuration is never copied)")


class RollbackIn(InputSerializer):
    build = serializers.IntegerField(min_value=1, max_value=2**62)


class PoliciesUpdateIn(PoliciesIn):
    pass
