"""Reads for the Deploy view: deployments per environment, previews, config, the deploy log.

Permission checks happen in the callers through component_get_for_user; nothing here returns
a secret's value (ConfigVar rows are loaded without `value_encrypted`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.utils.timezone import now as _now

from components.models import Component
from deployments.deploy.services.repository import Declared, locked_by
from deployments.deploy.services.rules import POLICY_FIELDS, POLICY_LABELS, build_ran_in, can_change
from deployments.environments import promotion_source
from deployments.models import Build, ConfigVar, Deployment, DeploymentEvent, Environment
from deployments.schedules.parsing import check_schedule_in_zone, parse_schedule, uses_spread
from deployments.schedules.preview import NextRun, next_runs

EVENTS_ON_PAGE = 50


@dataclass
class PreviewRun:
    """One upcoming tick, formatted here so templates never re-convert it to UTC."""

    local: str
    utc: str
    dst_note: str
    dst_kind: str
    at_utc_iso: str

    @classmethod
    def of(cls, run: NextRun, *, seconds: bool = False) -> PreviewRun:
        """`seconds`: the schedule fires within minutes (@every 20s), so minutes alone would
        show the same time several times."""
        clock = "%H:%M:%S" if seconds else "%H:%M"
        return cls(
            local=f"{run.at_local.strftime(f'%a %d %b %Y {clock}')} {run.at_local.tzname()}",
            utc=f"{run.at_utc.strftime(f'%Y-%m-%d {clock}')} UTC",
            dst_note=run.dst_note,
            dst_kind=run.dst_kind,
            at_utc_iso=run.at_utc.isoformat(),
        )


UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Zulu", "Zulu", "Universal"})


@dataclass
class Preview:
    """What a schedule means: words and the next runs, or the reason it is invalid."""

    schedule: str
    timezone: str
    words: str = ""
    # The concrete cron when the schedule uses H (the values chosen for this deployment).
    cron: str = ""
    runs: list[PreviewRun] = field(default_factory=list)
    error: str = ""

    @property
    def has_dst_notes(self) -> bool:
        return any(r.dst_note for r in self.runs)

    @property
    def is_utc(self) -> bool:
        """The schedule's own zone is UTC: one column of times says it all."""
        return self.timezone in UTC_NAMES


def schedule_preview(
    schedule: str,
    timezone: str,
    n: int = 5,
    *,
    deployed: bool = False,
    done: bool = False,
    seed: str = "",
    dst: str = "cron",
) -> Preview:
    """The preview of a schedule being written or (`deployed`) of one already deployed, whose
    one-off time may have passed: then it says "done" instead of refusing it (as it does for
    a `done` deployment, whose one tick was handled a moment before its time)."""
    p = Preview(schedule=schedule or "", timezone=timezone or "")
    try:
        parsed = parse_schedule(schedule, seed, dst=dst)
        p.words = parsed.describe()
        if uses_spread(schedule):
            p.cron = parsed.cron
        check_schedule_in_zone(parsed, timezone or "UTC", now=_now(), allow_past=deployed)
        if not done:
            runs = next_runs(parsed, timezone or "UTC", n=n)
            seconds = any(r.at_utc.second for r in runs)
            p.runs = [PreviewRun.of(r, seconds=seconds) for r in runs]
        if parsed.is_once and not p.runs:
            p.words += " — done, it fires no more"
    except ValidationError as exc:
        p.error = " ".join(exc.messages)
    return p


@dataclass
class EnvironmentRow:
    environment: Environment
    deployment: Deployment | None  # live deployment (not undeployed)
    preview: Preview | None
    policies: list[tuple[str, object]]
    config: list[ConfigVar]
    can_change: bool
    source: Environment | None  # the environment promotions come from
    source_deployment: Deployment | None
    source_ran: bool
    rollback_builds: list[Build]
    # The last pull of the deployed image onto this environment's engine failed: why.
    image_problem: str = ""
    # The fields chorus.toml set (schedules as code), read-only while managed.
    managed: Declared | None = None
    # The settings the contract's build declares (config_selectors.SettingRow), and that build.
    settings: list = field(default_factory=list)
    settings_build: Build | None = None

    @property
    def unset_settings(self) -> list:
        return [s for s in self.settings if not s.is_set]

    @property
    def missing_settings(self) -> list:
        return [s for s in self.settings if s.status == "missing"]

    # Changes here become approval requests for this user (deployments/approvals/).
    can_request: bool = False


def succeeded_builds(*, component: Component) -> QuerySet[Build]:
    """The builds a deploy or rollback form offers: succeeded, image still present."""
    return Build.objects.filter(
        component=component, status=Build.Status.SUCCEEDED, image_removed_at__isnull=True
    ).order_by("-queued_at", "-id")


def live_deployment(*, component: Component, environment: Environment | None) -> Deployment | None:
    """The live (not undeployed) deployment of `component` in `environment`; None when there
    is none, or no environment (a first environment has no promotion source).

    The one answer for the pages, the deploy services and the approvals' basis and diff. It
    neither locks nor raises: a writer that needs the row locked selects it for update itself,
    and the API's `deployment_for` (any status, 404) answers a different question."""
    if environment is None:
        return None
    return (
        Deployment.objects.select_related("build", "environment", "periodic_task", "deployed_by")
        .filter(component=component, environment=environment)
        .exclude(status=Deployment.Status.UNDEPLOYED)
        .first()
    )


def config_vars(*, component: Component, environment: Environment) -> list[ConfigVar]:
    return list(
        ConfigVar.objects.filter(component=component, environment=environment)
        .defer("value_encrypted")
        .select_related("updated_by")
        .order_by("key")
    )


def policy_rows(deployment: Deployment) -> list[tuple[str, object]]:
    rows = []
    managed = deployment.managed
    for f in POLICY_FIELDS:
        value = getattr(deployment, f)
        display = getattr(deployment, f"get_{f}_display", None)
        shown = display() if display else value
        if f in managed:
            shown = f"{shown} (chorus.toml)"
        rows.append((POLICY_LABELS[f], shown))
    return rows


def environment_row(*, component: Component, environment: Environment, user) -> EnvironmentRow:
    from deployments.deploy.config_selectors import contract_rows
    from deployments.deploy.services.contract import contract_build

    deployment = live_deployment(component=component, environment=environment)
    settings_build = contract_build(component=component, environment=environment)
    source = promotion_source(environment=environment)
    source_deployment = live_deployment(component=component, environment=source)
    builds = list(succeeded_builds(component=component)[:20])
    return EnvironmentRow(
        environment=environment,
        deployment=deployment,
        preview=(
            schedule_preview(
                deployment.schedule,
                deployment.timezone,
                deployed=True,
                done=deployment.is_done,
                seed=deployment.schedule_seed,
                dst=deployment.dst_rule,
            )
            if deployment
            else None
        ),
        policies=policy_rows(deployment) if deployment else [],
        config=config_vars(component=component, environment=environment),
        can_change=can_change(user=user, component=component, environment=environment),
        source=source,
        source_deployment=source_deployment,
        source_ran=bool(
            source_deployment
            and build_ran_in(deployment=source_deployment, build=source_deployment.build)
        ),
        rollback_builds=[b for b in builds if not deployment or b.pk != deployment.build_id],
        image_problem=image_problem(deployment) if deployment else "",
        managed=locked_by(deployment),
        settings=contract_rows(component=component, environment=environment, build=settings_build),
        settings_build=settings_build,
    )


def image_problem(deployment: Deployment) -> str:
    """Why the deployed image is not on its engine, when its last pull failed (services/pulls.py)."""
    last = (
        DeploymentEvent.objects.filter(
            deployment=deployment, build_id=deployment.build_id, kind=DeploymentEvent.Kind.PULL
        )
        .order_by("-created_at", "-id")
        .values_list("outcome", "message")
        .first()
    )
    if last and last[0] == DeploymentEvent.Outcome.FAILED:
        return last[1]
    return ""


def deploy_overview(*, component: Component, user) -> list[EnvironmentRow]:
    return [
        environment_row(component=component, environment=env, user=user)
        for env in Environment.objects.order_by("order")
    ]


def deployment_events(*, component: Component, limit: int = EVENTS_ON_PAGE):
    return list(deployment_events_qs(component=component)[:limit])


def deployment_events_qs(*, component: Component) -> QuerySet[DeploymentEvent]:
    return (
        DeploymentEvent.objects.filter(component=component)
        .select_related("environment", "actor", "build")
        .order_by("-created_at", "-id")
    )


def deployment_events_page(*, component: Component, page: str | int | None) -> Page:
    """One page of the deploy log, newest first; a bad or too-high number gives a valid page."""
    return Paginator(deployment_events_qs(component=component), EVENTS_ON_PAGE).get_page(page)
