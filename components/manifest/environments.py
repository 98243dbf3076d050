"""`[environments.<slug>]` tables of chorus.toml: schedule, timezone and policies per
environment (schedules kept in the repository).

    [environments.dev]
    schedule = "@every 10m"
    timezone = "Europe/Berlin"
    timeout = 300            # or timeout_seconds
    retries = 2              # or max_retries
    concurrency = "forbid"   # or concurrency_policy
    catchup = "latest"       # or catchup_policy

A table is named by an environment's slug or its name ("dev" or "Development"); its keys are
`schedule`, `timezone` and the deployment policies, by their API names (POLICY_RULES) or the
CLI's short ones (POLICY_ALIASES). Values are checked by the same rules as a change made in the
browser: the schedule parser, the IANA timezone list, `policies_clean` (so a timeout above the
environment's maximum run time is refused here too). The result, keyed by slug, holds only what
the file declares: {"dev": {"schedule": "@every 10m", "timezone": "UTC", "policies": {...}}}.

Whether those settings are applied, and when, is the deploy side's business
(deployments/deploy/services/repository.py).
"""

from __future__ import annotations

from typing import Any

POLICY_ALIASES = {
    "timeout": "timeout_seconds",
    "retries": "max_retries",
    "retry_delay": "retry_delay_seconds",
    "concurrency": "concurrency_policy",
    "starting_deadline": "starting_deadline_seconds",
    "catchup": "catchup_policy",
    "catchup_window": "catchup_window_seconds",
}


def parse_environments(data: Any, where) -> dict[str, dict[str, Any]]:
    """Validated settings per environment slug; ManifestError on a bad one."""
    from components.manifest import ManifestError

    if not isinstance(data, dict):
        raise ManifestError("“environments” must be a table", where.key("environments"))
    if not data:
        return {}
    from deployments.models import Environment

    known = list(Environment.objects.order_by("order"))
    by_name = {e.slug.lower(): e for e in known} | {e.name.lower(): e for e in known}
    out: dict[str, dict[str, Any]] = {}
    for name, table in data.items():
        line = where.table("environments", name) or where.key("environments", name)
        environment = by_name.get(str(name).lower())
        if environment is None:
            slugs = ", ".join(e.slug for e in known) or "none yet"
            raise ManifestError(f"unknown environment “{name}” (environments: {slugs})", line)
        if environment.slug in out:
            raise ManifestError(f"{environment.name} is declared twice", line)
        if not isinstance(table, dict):
            raise ManifestError(f"“environments.{name}” must be a table", line)
        out[environment.slug] = _parse_one(table, environment, where, ("environments", name))
    return out


def _parse_one(table: dict, environment, where, path: tuple[str, ...]) -> dict[str, Any]:
    from django.core.exceptions import ValidationError
    from django.utils import timezone as dj_timezone

    from components.manifest import ManifestError
    from deployments.deploy.services.rules import POLICY_RULES, policies_clean
    from deployments.schedules.parsing import check_schedule_in_zone, parse_schedule
    from deployments.schedules.timezones import validate_timezone

    def fail(key: str, reason: str):
        return ManifestError(f"{'.'.join(path)}.{key}: {reason}", where.key(*path, key))

    policies: dict[str, Any] = {}
    given: dict[str, str] = {}  # policy name -> key as written, for messages
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key in ("schedule", "timezone"):
            if not isinstance(value, str):
                raise fail(key, f'must be a string, e.g. {key} = "{_EXAMPLES[key]}"')
            continue
        policy = POLICY_ALIASES.get(key, key)
        if policy not in POLICY_RULES:
            known = ["schedule", "timezone", *POLICY_ALIASES, *POLICY_RULES]
            raise fail(key, f"unknown key (known: {', '.join(known)})")
        if policy in given:
            raise fail(key, f"sets the same policy as “{given[policy]}”")
        rule = POLICY_RULES[policy]
        if isinstance(rule, list) and not isinstance(value, str):
            raise fail(key, f"must be a string, one of: {', '.join(rule)}")
        if not isinstance(rule, list) and (isinstance(value, bool) or not isinstance(value, int)):
            raise fail(key, "must be a whole number")
        given[policy] = key
        policies[policy] = value
    try:
        out_policies = policies_clean(policies, environment=environment)
    except ValidationError as exc:
        policy, messages = next(iter(exc.message_dict.items()))
        raise fail(given.get(policy, policy), " ".join(messages)) from None
    tz = None
    if "timezone" in table:
        try:
            tz = validate_timezone(table["timezone"])
        except ValidationError as exc:
            raise fail("timezone", " ".join(exc.messages)) from None
        out["timezone"] = tz
    if "schedule" in table:
        try:
            sched = parse_schedule(table["schedule"], dst=out_policies.get("dst_rule", "cron"))
            check_schedule_in_zone(sched, tz or "UTC", now=dj_timezone.now())
        except ValidationError as exc:
            raise fail("schedule", " ".join(exc.messages)) from None
        out["schedule"] = sched.expr
    if out_policies:
        out["policies"] = out_policies
    return out


_EXAMPLES = {"schedule": "@every 10m", "timezone": "Europe/Berlin"}
