"""Account and projects: login, tokens, projects, environments, schedule preview."""

from __future__ import annotations

import getpass
import sys

from . import output
from .client import Client, CliError, load_settings, write_config
from .helpers import (
    client_for,
)


# --- account -----------------------------------------------------------------------------------
def cmd_login(args):
    settings = load_settings(url=args.url, token=args.token)
    if not args.token and not settings.token:
        raise CliError("give --token (create one in the web UI: Account → API tokens)", 2)
    client = Client(settings)
    projects = client.get_all("projects/")
    path = write_config(
        {"url": settings.url, "token": settings.token, "project": args.project or ""}
    )
    if args.json:
        output.emit_json({"config": str(path), "url": settings.url, "projects": len(projects)})
    else:
        print(f"Logged in to {settings.url}; {len(projects)} project(s). Saved to {path}")


def cmd_tokens_list(args):
    rows = client_for(args).get_all("tokens/")
    if args.json:
        return output.emit_json(rows)
    output.table(
        rows,
        [
            ("id", "id"),
            ("name", "name"),
            ("prefix", "prefix"),
            ("active", "is_active"),
            ("created", lambda r: output.when(r["created_at"])),
            ("last used", lambda r: output.when(r["last_used_at"])),
            ("expires", lambda r: output.when(r["expires_at"]) if r.get("expires_at") else "never"),
        ],
    )


def _password(args) -> str:
    """The password the API asks for before a token makes a token: from stdin with
    --password-stdin (scripts), else asked at the terminal, never from an argument."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        raise CliError(
            "creating a token needs your password: pipe it in with --password-stdin "
            "(or create the token in the web UI)",
            2,
        )
    return getpass.getpass("Password: ")


def cmd_tokens_create(args):
    body = {"name": args.name, "password": _password(args)}
    if args.expires_in_days:
        body["expires_in_days"] = args.expires_in_days
    token = client_for(args).post("tokens/create/", body)
    if args.json:
        return output.emit_json(token)
    print(f"Token {token['name']} (id {token['id']}). Store it now; it is not shown again:")
    print(token["key"])


def cmd_tokens_revoke(args):
    token = client_for(args).post(f"tokens/{args.id}/revoke/")
    if args.json:
        return output.emit_json(token)
    print(f"Revoked token {token['name']} (id {token['id']}).")


def cmd_status(args):
    """Is anybody firing and running the ticks? Exit 1 when not (for monitoring scripts)."""
    health = client_for(args).get("health/")
    if args.json:
        output.emit_json(health)
        return 0 if health["ok"] else 1
    print("Scheduler and workers: OK" if health["ok"] else "Scheduler and workers: PROBLEM")
    for problem in health["problems"]:
        print(f"  ! {problem}")
    output.table(
        health["processes"],
        [
            ("kind", "kind"),
            ("name", "name"),
            ("queues", lambda r: ",".join(r["queues"])),
            ("last seen", lambda r: output.when(r["last_seen"])),
            ("fresh", "fresh"),
        ],
        empty="(no beat or worker has checked in)",
    )
    return 0 if health["ok"] else 1


# --- projects ------------------------------------------------------------------------------
def cmd_projects_list(args):
    rows = client_for(args).get_all("projects/")
    if args.json:
        return output.emit_json(rows)
    output.table(
        rows, [("project", "slug"), ("name", "name"), ("role", "role")], empty="(no projects)"
    )


def cmd_projects_create(args):
    p = client_for(args).post(
        "projects/create/", {"name": args.name, "description": args.description or ""}
    )
    if args.json:
        return output.emit_json(p)
    print(f"Created project {p['slug']} ({p['name']}).")


def cmd_environments_list(args):
    rows = client_for(args).get("environments/")
    if args.json:
        return output.emit_json(rows)
    output.table(
        rows,
        [
            ("env", "slug"),
            ("name", "name"),
            ("production", "is_production"),
            ("runtime", "runtime_kind"),
        ],
    )


def cmd_schedule(args):
    p = client_for(args).get(
        "schedules/preview/",
        schedule=args.schedule,
        timezone=args.tz,
        count=args.count,
        dst_rule=args.dst_rule,
    )
    if args.json:
        return output.emit_json(p)
    print(f"{p['description']} ({p['timezone']})")
    output.table(
        p["next_runs"],
        [
            ("next run", "at_local"),
            ("utc", lambda r: output.when(r["at_utc"])),
            ("note", "dst_note"),
        ],
    )
