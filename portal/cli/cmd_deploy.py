"""Deployments (deploy, promote, suspend, resume, undeploy, rollback) and config."""

from __future__ import annotations

import sys

from . import output
from .client import ApiError, CliError
from .helpers import (
    client_for,
    component_path,
    component_ref,
)

# --- deployments -------------------------------------------------------------------------------
DEPLOYMENT_COLUMNS = [
    ("env", "environment"),
    ("status", lambda r: "done" if r.get("done") else r["status"]),
    ("schedule", "schedule"),
    ("timezone", "timezone"),
    ("build", "build"),
    ("commit", "short_sha"),
    ("next run", lambda r: output.when(r.get("next_run"))),
]


# CLI option (argparse dest) → the API's policy name (commands.add_policy_options).
POLICY_OPTIONS = {
    "timeout": "timeout_seconds",
    "retries": "max_retries",
    "retry_delay": "retry_delay_seconds",
    "concurrency": "concurrency_policy",
    "starting_deadline": "starting_deadline_seconds",
    "catchup": "catchup_policy",
    "catchup_window": "catchup_window_seconds",
    "dst_rule": "dst_rule",
    "keep_successes": "keep_successes",
    "keep_failures": "keep_failures",
    "keep_days": "keep_days",
}


def _policies(args) -> dict:
    return {
        api: getattr(args, cli)
        for cli, api in POLICY_OPTIONS.items()
        if getattr(args, cli, None) is not None
    }


def _show_deployment(args, d: dict, verb: str):
    if args.json:
        return output.emit_json(d)
    print(
        f"{verb} {d['component']} to {d['environment']}: build {d['build']} "
        f"({d['short_sha']}), “{d['schedule']}” {d['timezone']}, "
        f"{'done' if d.get('done') else d['status']}."
    )
    if d.get("schedule_description"):
        print(f"Runs {d['schedule_description']}; next: {output.when(d.get('next_run'))}")


def _pairs(pairs: list[str] | None) -> dict[str, str]:
    """KEY=VALUE arguments as a dict; VALUE "-" reads standard input (once)."""
    values: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"expected KEY=VALUE, got “{pair}”", 2)
        if value == "-":
            value = sys.stdin.read().rstrip("\n")  # secrets stay out of argv and shell history
        values[key] = value
    return values


def _post_deploy(args, client, path: str, body: dict, env: str) -> dict:
    """POST a deploy or promote; a refusal for missing settings says how to give them."""
    try:
        return client.post(path, body)
    except ApiError as exc:
        if "config" in exc.fields:
            project, name = component_ref(args, client)
            raise CliError(
                f"{exc} See them with `chorus config list {project}/{name} --env {env}`; "
                "give them with --set KEY=VALUE (VALUE - reads standard input)."
            ) from None
        raise


def cmd_deploy(args):
    client = client_for(args)
    body: dict = {}
    if args.schedule:
        body["schedule"] = args.schedule
    if args.tz:
        body["timezone"] = args.tz
    if args.build is not None:
        body["build"] = args.build
    policies = _policies(args)
    if policies:
        body["policies"] = policies
    config = _pairs(args.set)
    if config:
        body["config"] = config
    path = component_path(args, client) + f"deployments/{args.env}/deploy/"
    d = _post_deploy(args, client, path, body, args.env)
    _show_deployment(args, d, "Deployed")


def cmd_promote(args):
    client = client_for(args)
    body: dict = {}
    if args.source:
        body["source_env"] = args.source
    if args.schedule:
        body["schedule"] = args.schedule
    if args.tz:
        body["timezone"] = args.tz
    policies = _policies(args)
    if policies:
        body["policies"] = policies
    config = _pairs(args.set)
    if config:
        body["config"] = config
    path = component_path(args, client) + f"deployments/{args.to}/promote/"
    d = _post_deploy(args, client, path, body, args.to)
    _show_deployment(args, d, "Promoted")


def deployment_action(action: str, verb: str):
    def run(args):
        client = client_for(args)
        d = client.post(component_path(args, client) + f"deployments/{args.env}/{action}/")
        _show_deployment(args, d, verb)

    return run


def cmd_rollback(args):
    client = client_for(args)
    d = client.post(
        component_path(args, client) + f"deployments/{args.env}/rollback/", {"build": args.build}
    )
    _show_deployment(args, d, "Rolled back")


def cmd_policies(args):
    """Without policy options: the deployment's policies; with some: change just those."""
    client = client_for(args)
    path = component_path(args, client) + f"deployments/{args.env}/"
    policies = _policies(args)
    d = client.post(path + "policies/", policies) if policies else client.get(path)
    if args.json:
        return output.emit_json(d)
    if policies:
        print(f"Changed policies of {d['component']} in {d['environment']}.")
    else:
        print(f"Policies of {d['component']} in {d['environment']}:")
    managed = set(d.get("managed_fields") or ())
    output.details(
        [(k, f"{v} (chorus.toml)" if k in managed else v) for k, v in d["policies"].items()]
    )


def cmd_deployments_list(args):
    client = client_for(args)
    rows = client.get(component_path(args, client) + "deployments/")["results"]
    if args.json:
        return output.emit_json(rows)
    output.table(rows, DEPLOYMENT_COLUMNS, empty="(not deployed)")


# --- config and secrets ------------------------------------------------------------------------
def _config_rows(variables: list[dict], contract: dict) -> list[dict]:
    """The declared settings in the file's order, then the undeclared variables by name."""
    by_key = {v["key"]: v for v in variables}
    rows = []
    for s in contract["settings"]:
        var = by_key.pop(s["key"], None)
        rows.append(
            {
                "key": s["key"],
                "value": s["value"],
                "secret": s["secret"] or bool(var and var["is_secret"]),
                "status": s["status"],
                "type": s["type"],
                "default": s["default"],
                "description": (("required. " if s["required"] else "") + s["description"])[:60],
            }
        )
    for var in sorted(by_key.values(), key=lambda v: v["key"]):
        rows.append(
            {
                "key": var["key"],
                "value": var["value"],
                "secret": var["is_secret"],
                "status": "set",
                "type": "",
                "default": None,
                "description": "(not declared)" if contract["settings"] else "",
            }
        )
    return rows


CONFIG_COLUMNS = [
    ("key", "key"),
    ("value", "value"),
    ("secret", "secret"),
    ("status", "status"),
    ("type", "type"),
    ("default", "default"),
    ("description", "description"),
]


def cmd_config_list(args):
    """Per environment: what the build's chorus.toml declares and what is set (secrets masked)."""
    client = client_for(args)
    base = component_path(args, client)
    envs = [args.env] if args.env else [e["slug"] for e in client.get("environments/")]
    out = []
    for env in envs:
        variables = client.get_all(base + f"config/{env}/")
        contract = client.get(base + f"config/{env}/contract/", build=args.build)
        out.append({**contract, "variables": variables})
    if args.json:
        return output.emit_json(out[0] if args.env else out)
    for n, item in enumerate(out):
        if not args.env:
            print(("\n" if n else "") + f"== {item['environment']}")
        if item["build"] is not None and item["settings"]:
            print(f"Declared by build #{item['build']}'s chorus.toml.")
        output.table(_config_rows(item["variables"], item), CONFIG_COLUMNS, empty="(no config)")
        if item["missing"]:
            print(
                f"Missing (deploy and promote are refused until set): {', '.join(item['missing'])}"
            )


def cmd_config_set(args):
    client = client_for(args)
    path = component_path(args, client) + f"config/{args.env}/set/"
    results = [
        client.post(path, {"key": key, "value": value, "is_secret": args.secret})
        for key, value in _pairs(args.pairs).items()
    ]
    if args.json:
        return output.emit_json(results)
    for r in results:
        print(f"Set {r['key']}{' (secret)' if r['is_secret'] else ''} in {args.env}.")


def cmd_config_unset(args):
    client = client_for(args)
    path = component_path(args, client) + f"config/{args.env}/unset/"
    for key in args.keys:
        client.post(path, {"key": key})
    if args.json:
        return output.emit_json({"unset": args.keys})
    print(f"Removed {', '.join(args.keys)} from {args.env}.")
