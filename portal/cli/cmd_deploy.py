"""Deployments (deploy, promote, suspend, resume, undeploy, rollback) and config."""

from __future__ import annotations

import sys

from . import output
from .client import CliError
from .helpers import (
    client_for,
    component_path,
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


def _policies(args) -> dict:
    names = {
        "timeout": "timeout_seconds",
        "retries": "max_retries",
        "retry_delay": "retry_delay_seconds",
        "concurrency": "concurrency_policy",
        "starting_deadline": "starting_deadline_seconds",
        "catchup": "catchup_policy",
    }
    return {
        api: getattr(args, cli)
        for cli, api in names.items()
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
    d = client.post(component_path(args, client) + f"deployments/{args.env}/deploy/", body)
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
    d = client.post(component_path(args, client) + f"deployments/{args.to}/promote/", body)
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


def cmd_deployments_list(args):
    client = client_for(args)
    rows = client.get(component_path(args, client) + "deployments/")["results"]
    if args.json:
        return output.emit_json(rows)
    output.table(rows, DEPLOYMENT_COLUMNS, empty="(not deployed)")


# --- config and secrets ------------------------------------------------------------------------
def cmd_config_list(args):
    client = client_for(args)
    rows = client.get_all(component_path(args, client) + f"config/{args.env}/")
    if args.json:
        return output.emit_json(rows)
    output.table(
        rows,
        [
            ("key", "key"),
            ("value", "value"),
            ("secret", "is_secret"),
            ("updated", lambda r: output.when(r["updated_at"])),
        ],
        empty="(no config)",
    )


def cmd_config_set(args):
    client = client_for(args)
    path = component_path(args, client) + f"config/{args.env}/set/"
    results = []
    for pair in args.pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"expected KEY=VALUE, got “{pair}”", 2)
        if value == "-":
            value = sys.stdin.read().rstrip("\n")  # secrets stay out of argv and shell history
        results.append(client.post(path, {"key": key, "value": value, "is_secret": args.secret}))
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
