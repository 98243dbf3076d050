"""Every route of the URL configuration, and one of everything to fill in its parameters.

The role matrix and the page fuzzing walk `all_routes()`, so a new route is covered (or
fails the test for want of an entry) without anyone remembering to add it. Django's admin is
left out: it has its own staff-only permission system, not Chorus's roles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
# Routes with one of these parameters also run against Production (world["prod"]).
PRODUCTION_PARAMS = {"env_slug", "env", "execution_id"}


@dataclass(frozen=True)
class Route:
    name: str  # the URL name, namespaced ("api:builds") where the include has one
    route: str  # "p/<slug:project_slug>/c/<str:name>/"
    callback: object

    @property
    def params(self) -> list[str]:
        return [m.group(2) for m in PARAM.finditer(self.route)]

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")

    @property
    def has_production_variant(self) -> bool:
        return bool(PRODUCTION_PARAMS & set(self.params))

    def url(self, values: dict) -> str:
        return "/" + PARAM.sub(lambda m: str(values[m.group(2)]), self.route).lstrip("^")


def all_routes() -> list[Route]:
    from django.urls import URLPattern, URLResolver, get_resolver

    found: list[Route] = []

    def walk(patterns, prefix: str, namespace: str) -> None:
        for p in patterns:
            text = str(p.pattern)
            if isinstance(p, URLResolver):
                if text.startswith("admin/"):
                    continue
                ns = ":".join(filter(None, [namespace, p.namespace]))
                walk(p.url_patterns, prefix + text, ns)
            elif isinstance(p, URLPattern):
                name = ":".join(filter(None, [namespace, p.name or ""])) or prefix + text
                found.append(Route(name=name, route=prefix + text, callback=p.callback))

    walk(get_resolver().url_patterns, "", "")
    return found


def _pending_request(*, project, component, environment):
    """The developer's pending request to change Production's policies (approvals switched on
    for the request only, so the other routes answer as they do by default)."""
    from deployments.approvals.services import approval_request_create
    from portal.models import Membership

    developer = Membership.objects.filter(project=project, role="developer").first()
    if developer is None:
        return None
    project.production_approval = True
    project.save()
    approval = approval_request_create(
        component=component, environment=environment, action="policy",
        actor=developer.user, policies={"max_retries": 2}, comment="flaky upstream",
    )  # fmt: skip
    project.production_approval = False
    project.save()
    return approval


def build_world(*, owner, outsider, project) -> dict:
    """One of everything in `project` (owner's), keyed by every route parameter's name."""
    from django.utils import timezone

    from components.models import GitHubConnection
    from components.services import component_create
    from deployments.deploy.services.config import config_set
    from deployments.deploy.services.lifecycle import deployment_deploy
    from deployments.models import Environment, Execution
    from observability.services.alert_config import alert_channel_create, alert_rule_create
    from portal.models import Membership
    from portal.services import api_token_create
    from tests.support.factories import succeeded_build

    component = component_create(
        project=project,
        actor=owner,
        name="nightly",
        source_kind="sample",
        sample_key="health-check",
    )
    build = succeeded_build(component, image_ref="chorus/busybox:latest")
    dev = Environment.objects.get(slug="dev")
    deployment = deployment_deploy(
        component=component, environment=dev, build=build, schedule="0 2 * * *",
        timezone="UTC", actor=owner,
    )  # fmt: skip
    config_set(
        component=component, environment=dev, key="GREETING", value="hi", is_secret=False,
        actor=owner,
    )  # fmt: skip
    now = timezone.now()
    execution = Execution.objects.create(
        deployment=deployment, scheduled_for=now, status="failed", build=build,
        image_ref=build.image_ref, finished_at=now,
    )  # fmt: skip
    # It ran in Development, so Production may run it: a production deployment, its config
    # and a run, for the routes that act on an environment (owners only, in production).
    Execution.objects.create(
        deployment=deployment, scheduled_for=now - timedelta(minutes=1), status="succeeded",
        build=build, image_ref=build.image_ref, finished_at=now, exit_code=0,
    )  # fmt: skip
    prod = Environment.objects.get(slug="prod")
    prod_deployment = deployment_deploy(
        component=component, environment=prod, build=build, schedule="0 4 * * *",
        timezone="UTC", actor=owner,
    )  # fmt: skip
    config_set(
        component=component, environment=prod, key="GREETING", value="hello", is_secret=False,
        actor=owner,
    )  # fmt: skip
    prod_execution = Execution.objects.create(
        deployment=prod_deployment, scheduled_for=now, status="failed", build=build,
        image_ref=build.image_ref, finished_at=now,
    )  # fmt: skip
    channel = alert_channel_create(
        project=project, actor=owner, name="ops", kind="email", email_addresses="ops@example.com"
    )
    rule = alert_rule_create(component=component, actor=owner, kind="on_failure", channel=channel)
    connection = GitHubConnection.objects.create(
        project=project, base_url="https://api.github.example", login="octo", token_encrypted="x"
    )
    # The outsider's own token: revoking someone else's token must be refused.
    token, _ = api_token_create(user=owner, name="world")
    viewer = Membership.objects.filter(project=project, role="viewer").first()
    approval = _pending_request(project=project, component=component, environment=prod)
    return {
        "project_slug": project.slug,
        "project": project.slug,
        "name": component.name,
        "component": component.name,
        "env_slug": "dev",
        "env": "dev",
        "key": "GREETING",
        "build_id": build.pk,
        "execution_id": execution.pk,
        "channel_id": channel.pk,
        "rule_id": rule.pk,
        "connection_id": connection.pk,
        "token_id": token.pk,
        "membership_id": viewer.pk if viewer else 0,
        "approval_id": approval.pk if approval else 0,
        "username": viewer.user.username if viewer else "nobody",
        # The same routes aimed at Production instead (see PRODUCTION_PARAMS).
        "prod": {"env_slug": "prod", "env": "prod", "execution_id": prod_execution.pk},
    }
