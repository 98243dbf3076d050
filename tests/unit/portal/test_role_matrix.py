"""The role matrix, generated from the URL configuration: every route (pages and API, Django's
admin aside) × owner, developer, viewer, outsider × GET and POST, against one of everything
(tests/support/routes.py), each request in a savepoint rolled back after it.

EXPECTED holds, per route name, "GET owner developer viewer outsider | POST …". A route without
an entry fails the test with the line it observed, to be reviewed and pasted in. For every
refusal (401, 403, 404, 405) the database is checked unchanged, table by table (a refused
deploy action may add its failed event to the deploy log, nothing else). Anonymous
requests are sent to the login page (pages) or answered 401 (API), except on PUBLIC routes.

POST bodies: pages get one form with a plausible value for every field the forms have, so an
allowed role's POST really changes something (302) and a refused one demonstrably does not;
the API gets `{}` (an allowed role answers 400 for a missing field, 2xx when none is needed).
"""

from __future__ import annotations

import copy
import json

import pytest
from django.apps import apps
from django.db import transaction

from tests.support.routes import all_routes, build_world

pytestmark = pytest.mark.django_db

ROLES = ("owner", "developer", "viewer", "outsider")
REFUSED = {401, 403, 404, 405}
# Reachable without logging in: the login page, health and docs, the push webhook (signed),
# Prometheus (its own bearer token) and the API's JSON 404.
PUBLIC = {
    "login", "logout", "healthz", "github_webhook", "obs_metrics", "api_schema", "api_docs",
    "api:health", "api_not_found",
}  # fmt: skip

EXPECTED = {
    "home": "GET 200 200 200 200 | POST 200 200 200 200",
    "healthz": "GET 200 200 200 200 | POST 200 200 200 200",
    "login": "GET 200 200 200 200 | POST 200 200 200 200",
    "logout": "GET 405 405 405 405 | POST 302 302 302 302",
    "api_tokens": "GET 200 200 200 200 | POST 200 200 200 200",
    "api_token_revoke": "GET 405 405 405 405 | POST 302 404 404 404",
    "project_create": "GET 200 200 200 200 | POST 302 302 302 302",
    "project_detail": "GET 200 200 200 404 | POST 200 200 200 404",
    "project_settings": "GET 200 200 200 404 | POST 302 403 403 404",
    "project_delete": "GET 200 403 403 404 | POST 302 403 403 404",
    "project_members": "GET 200 200 200 404 | POST 302 403 403 404",
    "project_member_update": "GET 405 405 405 405 | POST 302 403 403 404",
    "github_webhook": "GET 405 405 405 405 | POST 403 403 403 403",
    "component_list": "GET 200 200 200 404 | POST 200 200 200 404",
    "component_create": "GET 200 200 403 404 | POST 200 200 403 404",
    "github_connections": "GET 200 200 200 404 | POST 200 200 403 404",
    "github_connection_delete": "GET 405 405 405 405 | POST 302 302 403 404",
    "component_detail": "GET 200 200 200 404 | POST 200 200 200 404",
    "component_edit": "GET 200 200 403 404 | POST 302 302 403 404",
    "component_delete": "GET 200 200 403 404 | POST 302 403 403 404",
    "component_webhook_secret": "GET 200 200 403 404 | POST 200 200 403 404",
    "component_webhook_secret_rotate": "GET 405 405 405 405 | POST 302 302 403 404",
    "build_list": "GET 200 200 200 404 | POST 302 302 403 404",
    "build_detail": "GET 200 200 200 404 | POST 200 200 200 404",
    "build_log": "GET 286 286 286 404 | POST 286 286 286 404",
    "build_cancel": "GET 200 200 403 404 | POST 302 302 403 404",
    "deploy": "GET 200 200 200 404 | POST 405 405 405 405",
    "deploy_schedule_preview": "GET 200 200 200 404 | POST 405 405 405 405",
    "deploy_env": "GET 200 200 403 404 | POST 302 302 403 404",
    "deploy_env@prod": "GET 200 403 403 404 | POST 302 403 403 404",
    "deploy_promote": "GET 302 302 403 404 | POST 302 302 403 404",
    "deploy_promote@prod": "GET 200 403 403 404 | POST 302 403 403 404",
    "deploy_suspend": "GET 405 405 405 405 | POST 302 302 403 404",
    "deploy_suspend@prod": "GET 405 405 405 405 | POST 302 403 403 404",
    "deploy_resume": "GET 405 405 405 405 | POST 302 302 403 404",
    "deploy_resume@prod": "GET 405 405 405 405 | POST 302 403 403 404",
    "deploy_undeploy": "GET 200 200 403 404 | POST 302 302 403 404",
    "deploy_undeploy@prod": "GET 200 403 403 404 | POST 302 403 403 404",
    "deploy_rollback": "GET 405 405 405 405 | POST 302 302 403 404",
    "deploy_rollback@prod": "GET 405 405 405 405 | POST 302 403 403 404",
    "deploy_run_now": "GET 200 200 403 404 | POST 302 302 403 404",
    "deploy_run_now@prod": "GET 200 403 403 404 | POST 302 403 403 404",
    "deploy_policies": "GET 200 200 403 404 | POST 302 302 403 404",
    "deploy_policies@prod": "GET 200 403 403 404 | POST 302 403 403 404",
    "deploy_config": "GET 200 200 200 404 | POST 302 302 403 404",
    "deploy_config@prod": "GET 200 200 200 404 | POST 302 403 403 404",
    "deploy_config_delete": "GET 405 405 405 405 | POST 302 302 403 404",
    "deploy_config_delete@prod": "GET 405 405 405 405 | POST 302 403 403 404",
    "execution_list": "GET 200 200 200 404 | POST 200 200 200 404",
    "execution_detail": "GET 200 200 200 404 | POST 200 200 200 404",
    "execution_detail@prod": "GET 200 200 200 404 | POST 200 200 200 404",
    "execution_log": "GET 286 286 286 404 | POST 286 286 286 404",
    "execution_log@prod": "GET 286 286 286 404 | POST 286 286 286 404",
    "execution_cancel": "GET 200 200 403 404 | POST 302 302 403 404",
    "execution_cancel@prod": "GET 200 403 403 404 | POST 302 403 403 404",
    "execution_rerun": "GET 200 200 403 404 | POST 302 302 403 404",
    "execution_rerun@prod": "GET 200 403 403 404 | POST 302 403 403 404",
    "obs_metrics": "GET 404 404 404 404 | POST 405 405 405 405",
    "obs_executions": "GET 200 200 200 404 | POST 200 200 200 404",
    "obs_schedule_load": "GET 200 200 200 404 | POST 405 405 405 405",
    "obs_dashboard": "GET 200 200 200 404 | POST 200 200 200 404",
    "obs_alerts": "GET 200 200 200 404 | POST 200 200 200 404",
    "obs_rule_create": "GET 405 405 405 405 | POST 400 400 403 404",
    "obs_rule_delete": "GET 405 405 405 405 | POST 302 302 403 404",
    "obs_rule_toggle": "GET 405 405 405 405 | POST 302 302 403 404",
    "obs_channel_create": "GET 405 405 405 405 | POST 400 400 403 404",
    "obs_channel_delete": "GET 405 405 405 405 | POST 302 302 403 404",
    "obs_channel_test": "GET 405 405 405 405 | POST 302 302 403 404",
    "api:tokens": "GET 200 200 200 200 | POST 405 405 405 405",
    "api:token_create": "GET 405 405 405 405 | POST 400 400 400 400",
    "api:token_revoke": "GET 405 405 405 405 | POST 200 404 404 404",
    "api:projects": "GET 200 200 200 200 | POST 405 405 405 405",
    "api:project_create": "GET 405 405 405 405 | POST 400 400 400 400",
    "api:project": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:members": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:member_add": "GET 405 405 405 405 | POST 400 403 403 404",
    "api:member_update": "GET 405 405 405 405 | POST 400 403 403 404",
    "api:member_remove": "GET 405 405 405 405 | POST 204 403 403 404",
    "api:samples": "GET 200 200 200 200 | POST 405 405 405 405",
    "api:components": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:component_create": "GET 405 405 405 405 | POST 400 400 403 404",
    "api:component": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:component_update": "GET 405 405 405 405 | POST 200 200 403 404",
    "api:component_delete": "GET 405 405 405 405 | POST 204 403 403 404",
    "api:builds": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:build_create": "GET 405 405 405 405 | POST 201 201 403 404",
    "api:build": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:build_logs": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:build_cancel": "GET 405 405 405 405 | POST 400 400 403 404",
    "api:environments": "GET 200 200 200 200 | POST 405 405 405 405",
    "api:schedule_preview": "GET 400 400 400 400 | POST 405 405 405 405",
    "api:health": "GET 200 200 200 200 | POST 405 405 405 405",
    "api:deployments": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:events": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:deployment": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:deployment@prod": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:deploy": "GET 405 405 405 405 | POST 400 400 403 404",
    "api:deploy@prod": "GET 405 405 405 405 | POST 400 403 403 404",
    "api:promote": "GET 405 405 405 405 | POST 400 400 403 404",
    "api:promote@prod": "GET 405 405 405 405 | POST 200 403 403 404",
    "api:rollback": "GET 405 405 405 405 | POST 400 400 403 404",
    "api:rollback@prod": "GET 405 405 405 405 | POST 400 403 403 404",
    "api:suspend": "GET 405 405 405 405 | POST 200 200 403 404",
    "api:suspend@prod": "GET 405 405 405 405 | POST 200 403 403 404",
    "api:resume": "GET 405 405 405 405 | POST 400 400 403 404",
    "api:resume@prod": "GET 405 405 405 405 | POST 400 403 403 404",
    "api:undeploy": "GET 405 405 405 405 | POST 200 200 403 404",
    "api:undeploy@prod": "GET 405 405 405 405 | POST 200 403 403 404",
    "api:policies": "GET 405 405 405 405 | POST 200 200 403 404",
    "api:policies@prod": "GET 405 405 405 405 | POST 200 403 403 404",
    "api:run": "GET 405 405 405 405 | POST 201 201 403 404",
    "api:run@prod": "GET 405 405 405 405 | POST 201 403 403 404",
    "api:executions": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:execution": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:execution@prod": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:execution_logs": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:execution_logs@prod": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:execution_cancel": "GET 405 405 405 405 | POST 400 400 403 404",
    "api:execution_cancel@prod": "GET 405 405 405 405 | POST 400 403 403 404",
    "api:execution_rerun": "GET 405 405 405 405 | POST 201 201 403 404",
    "api:execution_rerun@prod": "GET 405 405 405 405 | POST 201 403 403 404",
    "api:config": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:config@prod": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:config_set": "GET 405 405 405 405 | POST 400 400 403 404",
    "api:config_set@prod": "GET 405 405 405 405 | POST 400 403 403 404",
    "api:config_unset": "GET 405 405 405 405 | POST 400 400 403 404",
    "api:config_unset@prod": "GET 405 405 405 405 | POST 400 403 403 404",
    "api:config_contract": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:config_contract@prod": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:alert_channels": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:alert_channel_create": "GET 405 405 405 405 | POST 400 400 403 404",
    "api:alert_channel_delete": "GET 405 405 405 405 | POST 204 204 403 404",
    "api:alert_deliveries": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:alert_rules": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:alert_rule_create": "GET 405 405 405 405 | POST 400 400 403 404",
    "api:alert_rule_delete": "GET 405 405 405 405 | POST 204 204 403 404",
    "api_not_found": "GET 404 404 404 404 | POST 404 404 404 404",
    "api_schema": "GET 200 200 200 200 | POST 405 405 405 405",
    "api_docs": "GET 200 200 200 200 | POST 405 405 405 405",
    "approvals": "GET 200 200 200 404 | POST 405 405 405 405",
    "approval_detail": "GET 200 200 200 404 | POST 405 405 405 405",
    "approval_approve": "GET 405 405 405 405 | POST 302 403 403 404",
    "approval_reject": "GET 200 403 403 404 | POST 302 403 403 404",
    "approval_withdraw": "GET 405 405 405 405 | POST 403 302 403 404",
    "approval_refresh": "GET 405 405 405 405 | POST 302 302 403 404",
    "api:project_approval_settings": "GET 405 405 405 405 | POST 200 403 403 404",
    "api:approvals": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:approval_create": "GET 405 405 405 405 | POST 400 400 403 404",
    "api:approval": "GET 200 200 200 404 | POST 405 405 405 405",
    "api:approval_approve": "GET 405 405 405 405 | POST 200 403 403 404",
    "api:approval_reject": "GET 405 405 405 405 | POST 400 403 403 404",
    "api:approval_withdraw": "GET 405 405 405 405 | POST 403 200 403 404",
    "api:approval_refresh": "GET 405 405 405 405 | POST 200 200 403 404",
}  # fmt: skip


def _form(world) -> dict:
    return {
        "name": "renamed", "description": "changed", "username": "erin", "role": "developer",
        "schedule": "0 3 * * *", "timezone": "UTC", "key": "NEW_KEY", "value": "v",
        "is_secret": "", "kind": "on_failure", "channel": world["channel_id"],
        "email_addresses": "ops@example.com", "build": world["build_id"], "environment": "dev",
        "threshold": "", "token": "ghp_x", "confirm": "yes", "count": "5",
        "max_retries": "1", "timeout_seconds": "60", "concurrency_policy": "allow",
        "source_kind": "sample", "sample_key": "health-check", "reason": "not now",
    }  # fmt: skip


def _database() -> dict:
    """Every table's rows, but for sessions (a request may touch its own) and the deploy log's
    failed events: a refused deploy action is written to the deploy log by design
    (deployments/deploy/services/events.py: `recorded`), and that is all it may write."""
    state = {}
    for model in apps.get_models():
        if model._meta.label == "sessions.Session":
            continue
        rows = model.objects.order_by("pk")
        if model._meta.label == "deployments.DeploymentEvent":
            rows = rows.exclude(outcome="failed")
        state[model._meta.label] = list(rows.values_list())
    return state


# The confirmations that deleting pages ask for (a typed name).
CONFIRM = {"project_delete": "project_slug", "component_delete": "name"}


def _request(client, route, url, method, form, world):
    if method == "GET":
        return client.get(url)
    if route.is_api:
        return client.post(url, json.dumps({}), content_type="application/json")
    if route.name in CONFIRM:
        form = {**form, "confirm_name": world[CONFIRM[route.name]]}
    return client.post(url, form)


def _line(statuses: dict) -> str:
    return " | ".join(
        f"{m} " + " ".join(str(statuses[(m, role)]) for role in ROLES) for m in ("GET", "POST")
    )


@pytest.fixture
def world(alice, dave, project, make_user):
    make_user("erin")
    return build_world(owner=alice, outsider=dave, project=project)


def test_every_route_answers_each_role_as_the_matrix_says(users_by_role, client_for, world):
    clients = {role: client_for(user) for role, user in users_by_role.items()}
    cookies = {role: copy.deepcopy(c.cookies) for role, c in clients.items()}
    # Every request is rolled back: the database before each one is this.
    before = _database()
    form = _form(world)
    observed, missing, wrong, changed = {}, [], [], []
    for route in all_routes():
        variants = [(route.name, world)]
        if route.has_production_variant:
            variants.append((route.name + "@prod", {**world, **world["prod"]}))
        for key, values in variants:
            url = route.url(values)
            statuses = {}
            for method in ("GET", "POST"):
                for role in ROLES:
                    sid = transaction.savepoint()
                    try:
                        r = _request(clients[role], route, url, method, form, world)
                        statuses[(method, role)] = r.status_code
                        if r.status_code in REFUSED and _database() != before:
                            changed.append((key, method, role, r.status_code))
                    finally:
                        transaction.savepoint_rollback(sid)
                        # The rollback restores the rows; this restores the browser (logout).
                        clients[role].cookies = copy.deepcopy(cookies[role])
            line = _line(statuses)
            observed[key] = line
            if key not in EXPECTED:
                missing.append(f'    "{key}": "{line}",')
            elif EXPECTED[key] != line:
                wrong.append(f"{key}: expected {EXPECTED[key]!r}, got {line!r}")
    assert not missing, "Routes without an entry in EXPECTED:\n" + "\n".join(missing)
    assert not wrong, "\n".join(wrong)
    assert not changed, f"Refused requests that changed the database: {changed}"
    stale = set(EXPECTED) - set(observed)
    assert not stale, f"EXPECTED names routes that no longer exist: {sorted(stale)}"


def test_anonymous_requests_are_sent_to_log_in(client, world):
    before = _database()
    for route in all_routes():
        if route.name in PUBLIC:
            continue
        url = route.url(world)
        for method in ("get", "post"):
            sid = transaction.savepoint()
            r = getattr(client, method)(url)
            try:
                if route.is_api:
                    assert r.status_code in (401, 405), (route.name, method, r.status_code)
                else:
                    assert r.status_code == 302, (route.name, method, r.status_code)
                    assert r["Location"].startswith("/login/"), (route.name, r["Location"])
                assert _database() == before, (route.name, method)
            finally:
                transaction.savepoint_rollback(sid)
