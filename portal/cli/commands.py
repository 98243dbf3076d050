"""The argparse tree of `chorus`: which command runs which handler (in cmd_*.py)."""

from __future__ import annotations

import argparse

from .cmd_account import (
    cmd_environments_list,
    cmd_login,
    cmd_projects_create,
    cmd_projects_list,
    cmd_schedule,
    cmd_status,
    cmd_tokens_create,
    cmd_tokens_list,
    cmd_tokens_revoke,
)
from .cmd_approvals import add_commands as add_approval_commands
from .cmd_components import (
    cmd_build,
    cmd_builds_cancel,
    cmd_builds_list,
    cmd_builds_logs,
    cmd_builds_view,
    cmd_components_create,
    cmd_components_delete,
    cmd_components_list,
    cmd_components_update,
    cmd_components_view,
)
from .cmd_deploy import (
    cmd_config_list,
    cmd_config_set,
    cmd_config_unset,
    cmd_deploy,
    cmd_deployments_list,
    cmd_policies,
    cmd_promote,
    cmd_rollback,
    deployment_action,
)
from .cmd_executions import (
    cmd_executions_cancel,
    cmd_executions_list,
    cmd_executions_rerun,
    cmd_executions_view,
    cmd_logs,
    cmd_run,
)


# --- the parser ---------------------------------------------------------------------------
def add_policy_options(p: argparse.ArgumentParser) -> None:
    """The policy flags of deploy, promote and policies (cmd_deploy.POLICY_OPTIONS names them
    in the API). Values are checked by the server, so its message is the one shown."""
    p.add_argument("--timeout", type=int, help="seconds before a run is killed")
    p.add_argument(
        "--retries", "--max-retries", dest="retries", type=int, help="retries of a failed run"
    )
    p.add_argument("--retry-delay", type=int, help="seconds before the first retry")
    p.add_argument("--concurrency", choices=["allow", "forbid", "replace"])
    p.add_argument("--starting-deadline", type=int, help="seconds a late tick may still start")
    p.add_argument("--catchup", choices=["none", "latest", "all"])
    p.add_argument(
        "--catchup-window", type=int, help="how far back (seconds) catch-up looks for missed ticks"
    )
    p.add_argument(
        "--dst-rule",
        metavar="{cron,every,once}",
        help="daylight-saving rule of a cron schedule: cron (by the hour field), every (each "
        "real occurrence) or once (once per wall-clock time)",
    )
    p.add_argument("--keep-successes", type=int, help="succeeded executions kept")
    p.add_argument("--keep-failures", type=int, help="failed executions kept")
    p.add_argument("--keep-days", type=int, help="days executions are kept")


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

    command(sub, "status", cmd_status, "is a scheduler (beat) and an executions worker up?")

    g = group("tokens", "your API tokens")
    command(g, "list", cmd_tokens_list, "list your tokens (never their secrets)")
    p = command(
        g,
        "create",
        cmd_tokens_create,
        "create a token; its secret is shown once (asks for your password)",
    )
    p.add_argument("name")
    p.add_argument("--expires-in-days", type=int, help="the token stops working after N days")
    p.add_argument(
        "--password-stdin", action="store_true", help="read your password from standard input"
    )
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
    p.add_argument(
        "--dst-rule",
        metavar="{cron,every,once}",
        help="the DST rule the runs follow around clock changes (default: cron)",
    )

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
    p = command(g, "update", cmd_components_update, "change a component", component=True)
    p.add_argument(
        "--managed",
        choices=["on", "off"],
        help="schedules as code: chorus.toml sets schedule, timezone and policies",
    )
    p.add_argument("--auto-build", choices=["on", "off"], help="build on every push")
    p.add_argument("--description")
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
    p.add_argument(
        "--schedule",
        help='cron ("0 2 * * *"), @daily, "@every 10m" (required unless chorus.toml sets it)',
    )
    p.add_argument("--tz", help="IANA timezone, e.g. Europe/Berlin (default: UTC)")
    p.add_argument("--build", type=int, help="build id (default: the latest successful build)")
    add_policy_options(p)
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="set a config value in the environment first (repeatable; VALUE - reads stdin; "
        "keys chorus.toml declares secret are stored as secrets)",
    )

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
    add_policy_options(p)
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="set a config value in the target first (repeatable; VALUE - reads stdin); "
        "configuration is never copied by a promotion",
    )

    for name, verb in (("suspend", "Suspended"), ("resume", "Resumed"), ("undeploy", "Undeployed")):
        p = command(
            sub, name, deployment_action(name, verb), f"{name} a deployment", component=True
        )
        p.add_argument("--env", required=True)
    p = command(sub, "rollback", cmd_rollback, "deploy an earlier build again", component=True)
    p.add_argument("--env", required=True)
    p.add_argument("--build", type=int, required=True)

    p = command(
        sub,
        "policies",
        cmd_policies,
        "show or change a deployment's policies (keeps its build and schedule)",
        component=True,
    )
    p.add_argument("--env", required=True, help="environment slug, e.g. dev")
    add_policy_options(p)

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

    g = group("config", "config variables, secrets and the settings chorus.toml declares")
    p = command(
        g,
        "list",
        cmd_config_list,
        "the declared settings and what is set, per environment (secret values never shown)",
        component=True,
    )
    p.add_argument("--env", help="one environment (default: every environment)")
    p.add_argument("--build", type=int, help="the contract of this build (default: deployed)")
    p = command(g, "set", cmd_config_set, "set KEY=VALUE (VALUE '-' reads stdin)", component=True)
    p.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    p.add_argument("--env", required=True)
    p.add_argument("--secret", action="store_true", help="store encrypted; never shown again")
    p = command(g, "unset", cmd_config_unset, "remove keys", component=True)
    p.add_argument("keys", nargs="+", metavar="KEY")
    p.add_argument("--env", required=True)

    add_approval_commands(command, group)
    return parser
