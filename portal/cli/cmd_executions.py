"""Run now, executions and their logs."""

from __future__ import annotations

import json
import sys

from . import output
from .helpers import (
    client_for,
    component_path,
    follow_log,
    json_arg,
    print_logs,
    wait_finished,
)

# --- executions --------------------------------------------------------------------------------
EXECUTION_COLUMNS = [
    ("execution", "id"),
    ("env", "environment"),
    ("status", "status"),
    ("trigger", "trigger"),
    ("scheduled for", lambda r: output.when(r["scheduled_for"])),
    (
        "duration",
        lambda r: (
            f"{r['duration_seconds']:.1f}s" if r.get("duration_seconds") is not None else None
        ),
    ),
    ("exit", "exit_code"),
    ("reason", "reason"),
]


def cmd_run(args):
    client = client_for(args)
    payload = json_arg(args.payload, "--payload")
    body = {} if payload is None else {"payload": payload}
    e = client.post(component_path(args, client) + f"deployments/{args.env}/run/", body)
    if not (args.follow or args.wait):
        if args.json:
            return output.emit_json(e)
        print(f"Execution {e['id']} {e['status']} (run now in {e['environment']}).")
        return 0
    if args.follow and not args.json:
        print(f"Execution {e['id']}; following its log…", file=sys.stderr)
        follow_log(client, f"executions/{e['id']}/", follow=True)
    e = wait_finished(client, f"executions/{e['id']}/")
    if args.json:
        output.emit_json(e)
    else:
        print(
            f"Execution {e['id']} {e['status']}"
            + (f" (exit code {e['exit_code']})" if e.get("exit_code") is not None else "")
            + (f": {e['reason']}" if e.get("reason") else "."),
            file=sys.stderr,
        )
    return 0 if e["status"] == "succeeded" else 1


def cmd_executions_list(args):
    client = client_for(args)
    page = client.get(
        component_path(args, client) + "executions/",
        environment=args.env,
        status=args.status,
        trigger=args.trigger,
        limit=args.limit,
    )
    if args.json:
        return output.emit_json(page["results"])
    output.table(page["results"], EXECUTION_COLUMNS, empty="(no executions)")


def cmd_executions_view(args):
    e = client_for(args).get(f"executions/{args.id}/")
    if args.json:
        return output.emit_json(e)
    output.details(
        [
            ("execution", e["id"]),
            ("component", e["component"]),
            ("environment", e["environment"]),
            ("status", e["status"]),
            ("trigger", e["trigger"]),
            ("attempt", e["attempt"]),
            ("scheduled for", output.when(e["scheduled_for"])),
            ("started", output.when(e["started_at"])),
            ("finished", output.when(e["finished_at"])),
            ("exit code", e["exit_code"]),
            ("reason", e["reason"]),
            ("image", e["image_ref"]),
            ("payload", json.dumps(e["payload"]) if e.get("payload") is not None else None),
        ]
    )


def cmd_executions_cancel(args):
    e = client_for(args).post(f"executions/{args.id}/cancel/")
    if args.json:
        return output.emit_json(e)
    print(
        f"Execution {e['id']}: {e['status']}"
        + (" (cancel requested)" if e.get("cancel_requested") and not e.get("is_finished") else "")
        + "."
    )


def cmd_executions_rerun(args):
    e = client_for(args).post(f"executions/{args.id}/rerun/")
    if args.json:
        return output.emit_json(e)
    print(f"Execution {e['id']} {e['status']} (re-run of {args.id}).")


def cmd_logs(args):
    print_logs(args, f"executions/{args.id}/")
