"""Components and builds."""

from __future__ import annotations

import sys

from . import output
from .client import CliError
from .helpers import (
    client_for,
    component_path,
    component_ref,
    follow_log,
    print_logs,
    project_ref,
    wait_finished,
)

# --- components ------------------------------------------------------------------------------
COMPONENT_COLUMNS = [
    ("component", lambda r: f"{r['project']}/{r['name']}"),
    ("preset", "preset"),
    ("source", "source"),
    ("auto build", "auto_build"),
]


def cmd_components_list(args):
    client = client_for(args)
    rows = client.get_all(f"projects/{project_ref(args, client)}/components/")
    if args.json:
        return output.emit_json(rows)
    output.table(rows, COMPONENT_COLUMNS, empty="(no components)")


def cmd_components_view(args):
    client = client_for(args)
    c = client.get(component_path(args, client))
    if args.json:
        return output.emit_json(c)
    output.details(
        [
            ("component", f"{c['project']}/{c['name']}"),
            ("description", c["description"]),
            ("source", c["source"]),
            ("preset", c["preset"]),
            ("entry", c["entry_command"]),
            ("auto build", c["auto_build"]),
            ("managed by the repository", c.get("managed_by_repository", False)),
            ("created", output.when(c["created_at"])),
        ]
    )


def cmd_components_create(args):
    client = client_for(args)
    project, name = component_ref(args, client)
    body: dict = {"name": name, "description": args.description or ""}
    if args.sample:
        body.update(source_kind="sample", sample_key=args.sample)
    elif args.git:
        body.update(
            source_kind="git", git_url=args.git, branch=args.branch or "", path=args.path or ""
        )
    elif args.github:
        if args.connection is None:
            raise CliError("--github needs --connection <id> (a GitHub connection)", 2)
        body.update(
            source_kind="github",
            repository=args.github,
            branch=args.branch or "",
            path=args.path or "",
            github_connection=args.connection,
        )
    if args.preset:
        body["preset"] = args.preset
    if args.entry:
        body["entry_command"] = args.entry
    if args.auto_build:
        body["auto_build"] = True
    c = client.post(f"projects/{project}/components/create/", body)
    if args.json:
        return output.emit_json(c)
    print(f"Created component {c['project']}/{c['name']} ({c['preset']}, {c['source']}).")


def cmd_components_update(args):
    client = client_for(args)
    body: dict = {}
    if args.managed is not None:
        body["managed_by_repository"] = args.managed == "on"
    if args.auto_build is not None:
        body["auto_build"] = args.auto_build == "on"
    if args.description is not None:
        body["description"] = args.description
    if not body:
        raise CliError("nothing to change: give --managed, --auto-build or --description", 2)
    c = client.post(component_path(args, client) + "update/", body)
    if args.json:
        return output.emit_json(c)
    managed = "managed by the repository" if c["managed_by_repository"] else "set in Chorus"
    auto = "on" if c["auto_build"] else "off"
    print(f"Updated {c['project']}/{c['name']}: schedules {managed}; auto-build {auto}.")


def cmd_components_delete(args):
    client = client_for(args)
    path = component_path(args, client)
    if not args.yes:
        raise CliError("deleting removes builds, deployments and history: add --yes", 2)
    client.post(path + "delete/")
    if args.json:
        return output.emit_json({"deleted": args.component})
    print(f"Deleted {args.component}.")


# --- builds ------------------------------------------------------------------------------------
BUILD_COLUMNS = [
    ("build", "id"),
    ("status", "status"),
    ("commit", "short_sha"),
    ("message", lambda r: (r.get("commit_message") or "")[:50]),
    ("queued", lambda r: output.when(r["queued_at"])),
    ("image", "image_ref"),
]


def cmd_build(args):
    client = client_for(args)
    build = client.post(component_path(args, client) + "builds/create/")
    if not args.wait:
        if args.json:
            return output.emit_json(build)
        print(f"Build {build['id']} {build['status']} for commit {build['short_sha']}.")
        return 0
    if not args.json:
        print(
            f"Build {build['id']} for commit {build['short_sha']}; following its log…",
            file=sys.stderr,
        )
        follow_log(client, f"builds/{build['id']}/", follow=True)
    build = wait_finished(client, f"builds/{build['id']}/")
    if args.json:
        output.emit_json(build)
    else:
        print(
            f"Build {build['id']} {build['status']}"
            + (f": {build['error']}" if build.get("error") else "."),
            file=sys.stderr,
        )
    return 0 if build["status"] == "succeeded" else 1


def cmd_builds_list(args):
    client = client_for(args)
    rows = client.get(component_path(args, client) + "builds/", limit=args.limit)["results"]
    if args.json:
        return output.emit_json(rows)
    output.table(rows, BUILD_COLUMNS, empty="(no builds)")


def cmd_builds_view(args):
    b = client_for(args).get(f"builds/{args.id}/")
    if args.json:
        return output.emit_json(b)
    output.details(
        [
            ("build", b["id"]),
            ("component", b["component"]),
            ("status", b["status"]),
            ("commit", b["commit_sha"]),
            ("message", b["commit_message"]),
            ("image", b["image_ref"]),
            ("error", b["error"]),
            ("queued", output.when(b["queued_at"])),
            ("finished", output.when(b["finished_at"])),
        ]
    )


def cmd_builds_logs(args):
    print_logs(args, f"builds/{args.id}/")


def cmd_builds_cancel(args):
    b = client_for(args).post(f"builds/{args.id}/cancel/")
    if args.json:
        return output.emit_json(b)
    print(f"Build {b['id']}: {b['status']}.")
