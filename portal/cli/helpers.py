"""Helpers shared by the command modules: the client, component addressing, log following."""

from __future__ import annotations

import json
import sys
import time

from . import output
from .client import Client, CliError, load_settings


def client_for(args) -> Client:
    return Client(load_settings(url=args.url, token=args.token))


def component_ref(args, client: Client) -> tuple[str, str]:
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


def project_ref(args, client: Client) -> str:
    project = getattr(args, "project", None) or client.settings.project
    if project:
        return project
    mine = client.get("projects/", limit=2)["results"]
    if len(mine) != 1:
        raise CliError("which project? Use --project (or set CHORUS_PROJECT)", 2)
    return mine[0]["slug"]


def component_path(args, client: Client) -> str:
    project, name = component_ref(args, client)
    return f"projects/{project}/components/{name}/"


def json_arg(text: str | None, what: str):
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{what} is not valid JSON: {exc.msg} (at character {exc.pos})", 2) from exc


def follow_log(
    client: Client, path: str, *, follow: bool, interval: float = 1.0, sink=None
) -> dict:
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


def print_logs(args, path: str) -> None:
    client = client_for(args)
    lines: list | None = [] if args.json else None
    page = follow_log(client, path, follow=args.follow, sink=lines)
    if args.json:
        output.emit_json(
            {
                "lines": lines,
                "status": page["status"],
                "finished": page["finished"],
                "truncated": page["truncated"],
            }
        )


def wait_finished(client: Client, path: str, *, interval: float = 1.0) -> dict:
    while True:
        obj = client.get(path)
        if obj.get("is_finished"):
            return obj
        time.sleep(interval)
