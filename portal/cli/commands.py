"""The commands of `chorus`, one small function each, and the argparse tree that names them."""

from __future__ import annotations

import argparse
import json
import sys
import time

from . import output
from .client import Client, CliError, load_settings, write_config


# --- helpers ---------------------------------------------------------------------------------
def _client(args) -> Client:
    return Client(load_settings(url=args.url, token=args.token))


def _component(args, client: Client) -> tuple[str, str]:
    """(project, component) from `project/component`, or --project, or the only project."""
    ref = args.component
    if "/" in ref:
        project, _, name = ref.partition("/")
        if not project or not name or "/" in name:
            raise CliError(f"cannot read component “{ref}”: use <project>/<component>", 2)
        return project, name
    project = getattr(args, "project", None) or client.settings.project
    if not project:
        mine = client.get("projects/", limit=2)["results"]
        if len(mine) != 1:
            raise CliError(
                f"which project is “{ref}” in? Use <project>/{ref} or --project "
                "(or set CHORUS_PROJECT)",
                2,
            )
        project = mine[0]["slug"]
    return project, ref


def _project(args, client: Client) -> str:
    project = getattr(args, "project", None) or client.settings.project
    if project:
        return project
    mine = client.get("projects/", limit=2)["results"]
    if len(mine) != 1:
        raise CliError("which project? Use --project (or set CHORUS_PROJECT)", 2)
    return mine[0]["slug"]


def _cpath(args, client: Client) -> str:
    project, name = _component(args, client)
    return f"projects/{project}/components/{name}/"


def _json_arg(text: str | None, what: str):
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{what} is not valid JSON: {exc.msg} (at character {exc.pos})", 2) from exc


def _follow(client: Client, path: str, *, follow: bool, interval: float = 1.0, sink=None) -> dict:
    """Print log lines from `path`logs/ (each once); with follow, until the run is finished.

    With `sink` (a list) the lines are collected there instead of printed (for --json).
    """
    after = 0
    while True:
        page = client.get(path + "logs/", after=after)
        for line in page["lines"]:
            if sink is not None:
                sink.append(line)
            else:
                sys.stdout.write(line["text"].rstrip("\n") + "\n")
            after = line["seq"]
        sys.stdout.flush()
        if page.get("has_more"):
            continue
        if page["finished"] or not follow:
            if page.get("truncated") and sink is None:
                print("[log truncated by the server's size cap]", file=sys.stderr)
            return page
        time.sleep(interval)


def _logs(args, path: str) -> None:
    client = _client(args)
    lines: list | None = [] if args.json else None
    page = _follow(client, path, follow=args.follow, sink=lines)
    if args.json:
        output.emit_json(
            {
                "lines": lines,
                "status": page["status"],
                "finished": page["finished"],
                "truncated": page["truncated"],
            }
        )


def _wait_finished(client: Client, path: str, *, interval: float = 1.0) -> dict:
    while True:
        obj = client.get(path)
        if obj.get("is_finished"):
            return obj
        time.sleep(interval)


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
    rows = _client(args).get_all("tokens/")
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
        ],
    )


def cmd_tokens_create(args):
    token = _client(args).post("tokens/create/", {"name": args.name})
    if args.json:
        return output.emit_json(token)
    print(f"Token {token['name']} (id {token['id']}). Store it now; it is not shown again:")
    print(token["key"])


def cmd_tokens_revoke(args):
    token = _client(args).post(f"tokens/{args.id}/revoke/")
    if args.json:
        return output.emit_json(token)
    print(f"Revoked token {token['name']} (id {token['id']}).")


# --- projects ------------------------------------------------------------------------------
def cmd_projects_list(args):
    rows = _client(args).get_all("projects/")
    if args.json:
        return output.emit_json(rows)
    output.table(
        rows, [("project", "slug"), ("name", "name"), ("role", "role")], empty="(no projects)"
    )


def cmd_projects_create(args):
    p = _client(args).post(
        "projects/create/", {"name": args.name, "description": args.description or ""}
    )
    if args.json:
        return output.emit_json(p)
    print(f"Created project {p['slug']} ({p['name']}).")


def cmd_environments_list(args):
    rows = _client(args).get("environments/")
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
    p = _client(args).get(
        "schedules/preview/", schedule=args.schedule, timezone=args.tz, count=args.count
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


# --- components ------------------------------------------------------------------------------
COMPONENT_COLUMNS = [
    ("component", lambda r: f"{r['project']}/{r['name']}"),
    ("preset", "preset"),
    ("source", "source"),
    ("auto build", "auto_build"),
]


def cmd_components_list(args):
    client = _client(args)
    rows = client.get_all(f"projects/{_project(args, client)}/components/")
    if args.json:
        return output.emit_json(rows)
    output.table(rows, COMPONENT_COLUMNS, empty="(no components)")


def cmd_components_view(args):
    client = _client(args)
    c = client.get(_cpath(args, client))
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
            ("created", output.when(c["created_at"])),
        ]
    )


def cmd_components_create(args):
    client = _client(args)
    project, name = _component(args, client)
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


def cmd_components_delete(args):
    client = _client(args)
    path = _cpath(args, client)
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
    client = _client(args)
    build = client.post(_cpath(args, client) + "builds/create/")
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
        _follow(client, f"builds/{build['id']}/", follow=True)
    build = _wait_finished(client, f"builds/{build['id']}/")
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
    client = _client(args)
    rows = client.get(_cpath(args, client) + "builds/", limit=args.limit)["results"]
    if args.json:
        return output.emit_json(rows)
    output.table(rows, BUILD_COLUMNS, empty="(no builds)")


def cmd_builds_view(args):
    b = _client(args).get(f"builds/{args.id}/")
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
    _logs(args, f"builds/{args.id}/")


def cmd_builds_cancel(args):
    b = _client(args).post(f"builds/{args.id}/cancel/")
    if args.json:
        return output.emit_json(b)
    print(f"Build {b['id']}: {b['status']}.")


# --- deployments -------------------------------------------------------------------------------
DEPLOYMENT_COLUMNS = [
    ("env", "environment"),
    ("status", "status"),
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
        f"({d['short_sha']}), “{d['schedule']}” {d['timezone']}, {d['status']}."
    )
    if d.get("schedule_description"):
        print(f"Runs {d['schedule_description']}; next: {output.when(d.get('next_run'))}")


def cmd_deploy(args):
    client = _client(args)
    body: dict = {"schedule": args.schedule, "timezone": args.tz}
    if args.build is not None:
        body["build"] = args.build
    policies = _policies(args)
    if policies:
        body["policies"] = policies
    d = client.post(_cpath(args, client) + f"deployments/{args.env}/deploy/", body)
    _show_deployment(args, d, "Deployed")


def cmd_promote(args):
    client = _client(args)
    body: dict = {}
    if args.source:
        body["source_env"] = args.source
    if args.schedule:
        body["schedule"] = args.schedule
    if args.tz:
        body["timezone"] = args.tz
    d = client.post(_cpath(args, client) + f"deployments/{args.to}/promote/", body)
    _show_deployment(args, d, "Promoted")


def _deployment_action(action: str, verb: str):
    def run(args):
        client = _client(args)
        d = client.post(_cpath(args, client) + f"deployments/{args.env}/{action}/")
        _show_deployment(args, d, verb)

    return run


def cmd_rollback(args):
    client = _client(args)
    d = client.post(
        _cpath(args, client) + f"deployments/{args.env}/rollback/", {"build": args.build}
    )
    _show_deployment(args, d, "Rolled back")


def cmd_deployments_list(args):
    client = _client(args)
    rows = client.get(_cpath(args, client) + "deployments/")["results"]
    if args.json:
        return output.emit_json(rows)
    output.table(rows, DEPLOYMENT_COLUMNS, empty="(not deployed)")


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
    client = _client(args)
    payload = _json_arg(args.payload, "--payload")
    body = {} if payload is None else {"payload": payload}
    e = client.post(_cpath(args, client) + f"deployments/{args.env}/run/", body)
    if not (args.follow or args.wait):
        if args.json:
            return output.emit_json(e)
        print(f"Execution {e['id']} {e['status']} (run now in {e['environment']}).")
        return 0
    if args.follow and not args.json:
        print(f"Execution {e['id']}; following its log…", file=sys.stderr)
        _follow(client, f"executions/{e['id']}/", follow=True)
    e = _wait_finished(client, f"executions/{e['id']}/")
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
    client = _client(args)
    page = client.get(
        _cpath(args, client) + "executions/",
        environment=args.env,
        status=args.status,
        trigger=args.trigger,
        limit=args.limit,
    )
    if args.json:
        return output.emit_json(page["results"])
    output.table(page["results"], EXECUTION_COLUMNS, empty="(no executions)")


def cmd_executions_view(args):
    e = _client(args).get(f"executions/{args.id}/")
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
    e = _client(args).post(f"executions/{args.id}/cancel/")
    if args.json:
        return output.emit_json(e)
    print(
        f"Execution {e['id']}: {e['status']}"
        + (" (cancel requested)" if e.get("cancel_requested") and not e.get("is_finished") else "")
        + "."
    )


def cmd_executions_rerun(args):
    e = _client(args).post(f"executions/{args.id}/rerun/")
    if args.json:
        return output.emit_json(e)
    print(f"Execution {e['id']} {e['status']} (re-run of {args.id}).")


def cmd_logs(args):
    _logs(args, f"executions/{args.id}/")


# --- config and secrets ------------------------------------------------------------------------
def cmd_config_list(args):
    client = _client(args)
    rows = client.get_all(_cpath(args, client) + f"config/{args.env}/")
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
    client = _client(args)
    path = _cpath(args, client) + f"config/{args.env}/set/"
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
    client = _client(args)
    path = _cpath(args, client) + f"config/{args.env}/unset/"
    for key in args.keys:
        client.post(path, {"key": key})
    if args.json:
        return output.emit_json({"unset": args.keys})
    print(f"Removed {', '.join(args.keys)} from {args.env}.")


# --- the parser ---------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the API's JSON")
    common.add_argument("--url", default=None, help="Chorus URL (default: CHORUS_URL / config)")
    common.add_argument("--token", default=None, help="API token (default: CHORUS_TOKEN / config)")

    parser = argparse.ArgumentParser(
        prog="chorus", description="Command-line client for Chorus scheduled tasks."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(parent, name, handler, help_text, *, project=False, component=False):
        p = parent.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        if component:
            p.add_argument("component", help="<project>/<component>, or a name with --project")
        if project or component:
            p.add_argument("--project", "-p", help="project slug (default: CHORUS_PROJECT)")
        return p

    def group(name, help_text):
        g = sub.add_parser(name, help=help_text, description=help_text)
        return g.add_subparsers(dest="action", metavar="ACTION", required=True)

    p = command(sub, "login", cmd_login, "check a token and save URL + token to the config file")
    p.add_argument("--project", help="default project for commands that need one")

    g = group("tokens", "your API tokens")
    command(g, "list", cmd_tokens_list, "list your tokens (never their secrets)")
    command(
        g, "create", cmd_tokens_create, "create a token; its secret is shown once"
    ).add_argument("name")
    command(g, "revoke", cmd_tokens_revoke, "revoke a token").add_argument("id", type=int)

    g = group("projects", "projects you belong to")
    command(g, "list", cmd_projects_list, "list projects and your role")
    p = command(g, "create", cmd_projects_create, "create a project")
    p.add_argument("name")
    p.add_argument("--description", default="")

    g = group("environments", "deployment environments")
    command(g, "list", cmd_environments_list, "list environments in promotion order")

    p = command(sub, "schedule", cmd_schedule, "check a schedule and show its next runs")
    p.add_argument("schedule", help='cron ("0 2 * * *"), @daily, "@every 10m"')
    p.add_argument("--tz", default="UTC", help="IANA timezone, e.g. Europe/Berlin")
    p.add_argument("--count", type=int, default=5)

    g = group("components", "components (scheduled tasks)")
    command(g, "list", cmd_components_list, "list components of a project", project=True)
    command(g, "view", cmd_components_view, "show a component", component=True)
    p = command(g, "create", cmd_components_create, "create a component", component=True)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--sample", metavar="KEY", help="start from a built-in sample")
    src.add_argument("--git", metavar="URL", help="a git URL")
    src.add_argument("--github", metavar="OWNER/REPO", help="a repository of a GitHub connection")
    p.add_argument("--connection", type=int, help="GitHub connection id (with --github)")
    p.add_argument("--branch", help="branch or ref (default: the repository's default)")
    p.add_argument("--path", help="directory of the task inside the repository")
    p.add_argument("--preset", choices=["dockerfile", "python"], help="default: detected")
    p.add_argument("--entry", help="Python preset: the command that starts the task")
    p.add_argument("--auto-build", action="store_true", help="build on every push")
    p.add_argument("--description", default="")
    p = command(g, "delete", cmd_components_delete, "delete a component", component=True)
    p.add_argument("--yes", action="store_true", help="really delete")

    p = command(sub, "build", cmd_build, "build a component's latest commit", component=True)
    p.add_argument("--wait", action="store_true", help="follow the log until the build ends")
    g = group("builds", "builds and their logs")
    p = command(g, "list", cmd_builds_list, "list a component's builds", component=True)
    p.add_argument("--limit", type=int, default=20)
    command(g, "view", cmd_builds_view, "show a build").add_argument("id", type=int)
    p = command(g, "logs", cmd_builds_logs, "print a build's log")
    p.add_argument("id", type=int)
    p.add_argument("--follow", "-f", action="store_true", help="keep printing until it ends")
    command(g, "cancel", cmd_builds_cancel, "cancel a build").add_argument("id", type=int)

    p = command(sub, "deploy", cmd_deploy, "deploy a build with a schedule", component=True)
    p.add_argument("--env", required=True, help="environment slug, e.g. dev")
    p.add_argument("--schedule", required=True, help='cron ("0 2 * * *"), @daily, "@every 10m"')
    p.add_argument("--tz", default="UTC", help="IANA timezone, e.g. Europe/Berlin")
    p.add_argument("--build", type=int, help="build id (default: the latest successful build)")
    p.add_argument("--timeout", type=int, help="seconds before a run is killed")
    p.add_argument("--retries", type=int, help="retries of a failed run")
    p.add_argument("--retry-delay", type=int, help="seconds between retries")
    p.add_argument("--concurrency", choices=["allow", "forbid", "replace"])
    p.add_argument("--starting-deadline", type=int, help="seconds a late tick may still start")
    p.add_argument("--catchup", choices=["none", "latest", "all"])

    p = command(
        sub,
        "promote",
        cmd_promote,
        "promote the deployed image to the next environment",
        component=True,
    )
    p.add_argument("--to", default="prod", help="target environment (default: prod)")
    p.add_argument("--from", dest="source", help="source environment (default: the one before)")
    p.add_argument("--schedule", help="schedule in the target (default: keep / the source's)")
    p.add_argument("--tz", help="timezone in the target")

    for name, verb in (("suspend", "Suspended"), ("resume", "Resumed"), ("undeploy", "Undeployed")):
        p = command(
            sub, name, _deployment_action(name, verb), f"{name} a deployment", component=True
        )
        p.add_argument("--env", required=True)
    p = command(sub, "rollback", cmd_rollback, "deploy an earlier build again", component=True)
    p.add_argument("--env", required=True)
    p.add_argument("--build", type=int, required=True)

    g = group("deployments", "deployments of a component")
    command(g, "list", cmd_deployments_list, "deployments per environment", component=True)

    p = command(sub, "run", cmd_run, "run a deployment now", component=True)
    p.add_argument("--env", required=True)
    p.add_argument("--payload", help="JSON passed to the task (CHORUS_PAYLOAD)")
    p.add_argument("--follow", "-f", action="store_true", help="follow the log until it ends")
    p.add_argument(
        "--wait", action="store_true", help="wait for the end; exit 1 unless it succeeded"
    )

    g = group("executions", "executions (runs) of a component")
    p = command(g, "list", cmd_executions_list, "list executions", component=True)
    p.add_argument("--env")
    p.add_argument("--status")
    p.add_argument("--trigger")
    p.add_argument("--limit", type=int, default=20)
    command(g, "view", cmd_executions_view, "show an execution").add_argument("id", type=int)
    command(g, "cancel", cmd_executions_cancel, "cancel an execution").add_argument("id", type=int)
    command(g, "rerun", cmd_executions_rerun, "run an execution again").add_argument("id", type=int)

    p = command(sub, "logs", cmd_logs, "print an execution's log")
    p.add_argument("id", type=int, help="execution id")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing until it ends")

    g = group("config", "config variables and secrets per environment")
    p = command(
        g, "list", cmd_config_list, "list config (secret values never shown)", component=True
    )
    p.add_argument("--env", required=True)
    p = command(g, "set", cmd_config_set, "set KEY=VALUE (VALUE '-' reads stdin)", component=True)
    p.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    p.add_argument("--env", required=True)
    p.add_argument("--secret", action="store_true", help="store encrypted; never shown again")
    p = command(g, "unset", cmd_config_unset, "remove keys", component=True)
    p.add_argument("keys", nargs="+", metavar="KEY")
    p.add_argument("--env", required=True)
    return parser
