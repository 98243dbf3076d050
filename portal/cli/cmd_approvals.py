"""Approval requests for production changes: list, view, request, approve, reject, withdraw."""

from __future__ import annotations

from . import output
from .client import CliError
from .helpers import client_for, component_ref, json_arg, project_ref

COLUMNS = [
    ("id", "id"),
    ("status", lambda r: r["status"] + (" (stale)" if r.get("stale") else "")),
    ("component", "component"),
    ("what", "summary"),
    ("by", "requested_by"),
    ("requested", lambda r: output.when(r["created_at"])),
    ("decided by", "decided_by"),
]


def _path(args, client, suffix: str = "") -> str:
    return f"projects/{project_ref(args, client)}/approvals/{suffix}"


def _show(args, a: dict, verb: str = "") -> None:
    if args.json:
        return output.emit_json(a)
    if verb:
        print(f"{verb} request #{a['id']}: {a['summary']}.")
    output.details(
        [
            ("request", f"#{a['id']} ({a['status']})"),
            ("what", a["summary"]),
            ("requested by", a["requested_by"]),
            ("requested", output.when(a["created_at"])),
            ("comment", a["comment"]),
            ("decided by", a["decided_by"]),
            ("reason", a["reason"]),
            ("stale", a["stale"]),
            ("revision", a["revision"]),
        ]
    )
    changed = [r for r in a["diff"] if r["changed"]]
    if changed:
        print("Changes:")
        output.table(changed, [("", "label"), ("now", "before"), ("after", "after")])


def cmd_approvals_list(args):
    client = client_for(args)
    params = {"status": args.status} if args.status != "all" else {}
    if args.component_name:
        params["component"] = args.component_name
    rows = client.get_all(_path(args, client), **params)
    if args.json:
        return output.emit_json(rows)
    output.table(rows, COLUMNS, empty="(no requests)")


def cmd_approvals_view(args):
    client = client_for(args)
    _show(args, client.get(_path(args, client, f"{args.id}/")))


def cmd_approvals_request(args):
    client = client_for(args)
    project, name = component_ref(args, client)
    args.project = project
    body: dict = {"component": name, "environment": args.env, "action": args.action}
    for key, value in (
        ("build", args.build),
        ("schedule", args.schedule),
        ("timezone", args.tz),
        ("comment", args.comment),
        ("source_env", args.source),
    ):
        if value is not None:
            body[key] = value
    if args.policies is not None:
        body["policies"] = json_arg(args.policies, "--policies")
    if args.action in ("rollback", "deploy") and args.build is None:
        raise CliError(f"a {args.action} request needs --build", 2)
    _show(args, client.post(_path(args, client, "create/"), body), "Sent")


def cmd_approvals_approve(args):
    client = client_for(args)
    body = {"revision": args.revision} if args.revision is not None else {}
    a = client.post(_path(args, client, f"{args.id}/approve/"), body)
    _show(args, a, "Approved and applied")


def cmd_approvals_reject(args):
    client = client_for(args)
    a = client.post(_path(args, client, f"{args.id}/reject/"), {"reason": args.reason})
    _show(args, a, "Rejected")


def cmd_approvals_withdraw(args):
    client = client_for(args)
    _show(args, client.post(_path(args, client, f"{args.id}/withdraw/")), "Withdrew")


def add_commands(command, group) -> None:
    """`chorus approvals …` (called from commands.build_parser)."""
    g = group("approvals", "approval requests for changes to production")
    p = command(g, "list", cmd_approvals_list, "list a project's requests", project=True)
    p.add_argument(
        "--status",
        default="pending",
        choices=["pending", "approved", "rejected", "withdrawn", "all"],
        help="default: pending",
    )
    p.add_argument("--component", dest="component_name", help="only this component's")
    p = command(g, "view", cmd_approvals_view, "show a request and its diff", project=True)
    p.add_argument("id", type=int)
    p = command(g, "request", cmd_approvals_request, "ask the owners for a change", component=True)
    p.add_argument("--action", required=True, choices=["promote", "rollback", "deploy", "policy"])
    p.add_argument("--env", default="prod", help="the production environment (default: prod)")
    p.add_argument("--from", dest="source", help="promote: source environment")
    p.add_argument("--build", type=int, help="rollback / deploy: the build")
    p.add_argument("--schedule")
    p.add_argument("--tz", help="IANA timezone")
    p.add_argument("--policies", help='JSON, e.g. {"max_retries": 2}')
    p.add_argument("--comment", help="for the owners")
    p = command(g, "approve", cmd_approvals_approve, "approve and apply a request", project=True)
    p.add_argument("id", type=int)
    p.add_argument("--revision", type=int, help="refuse if the request changed since this one")
    p = command(g, "reject", cmd_approvals_reject, "reject a request", project=True)
    p.add_argument("id", type=int)
    p.add_argument("--reason", required=True, help="why; the requester reads it")
    p = command(g, "withdraw", cmd_approvals_withdraw, "withdraw your request", project=True)
    p.add_argument("id", type=int)
