"""Rows of a fault scenario, made through the services, in this process or in a subprocess.

A scenario against the test database calls `seed` and `snapshot` directly. One against a
database of its own (a private PostgreSQL cluster) runs them in a subprocess with that
DATABASE_URL:

    python -m tests.support.fault_data seed '<spec as JSON>'        -> {"deployments": {...}, ...}
    python -m tests.support.fault_data snapshot '[<deployment id>, ...]'

and reads the JSON on the last line of its output. A spec:

    {"prefix": "redis", "environments": [{"slug": "...", "order": 201, "runtime_kind": "docker",
     "docker_host": "", "docker_network": ""}],
     "deployments": [{"name": "a", "environment": "<slug>", "image": "<ref>", "schedule":
     "@every 2s", "timezone": "UTC", "policies": {...}, "config": {"KEY": "value"}}]}
"""

from __future__ import annotations

import json
import sys
from datetime import datetime


def seed(spec: dict) -> dict:
    from django.contrib.auth import get_user_model

    from deployments.deploy.services.config import config_set
    from deployments.deploy.services.lifecycle import deployment_deploy
    from deployments.models import Environment
    from portal.services import project_create
    from tests.support.factories import sample_component

    prefix = spec["prefix"]
    owner = get_user_model().objects.create_user(f"faults-{prefix}", password="x-fault-pass-1")
    project = project_create(name=f"Faults {prefix}", actor=owner)
    environments = {}
    for e in spec["environments"]:
        environments[e["slug"]] = Environment.objects.create(
            name=e.get("name") or e["slug"], slug=e["slug"], order=e["order"],
            runtime_kind=e["runtime_kind"], docker_host=e.get("docker_host", ""),
            docker_network=e.get("docker_network", ""),
        )  # fmt: skip
    components: dict = {}
    deployments = {}
    for n, d in enumerate(spec["deployments"], start=1):
        component_name = d.get("component", d["name"])
        c = components.get(component_name)
        if c is None:
            c = components[component_name] = sample_component(
                project, component_name, created_by=owner, entry_command="sh"
            )
        env = environments[d["environment"]]
        for key, value in (d.get("config") or {}).items():
            config_set(
                component=c, environment=env, key=key, value=value, is_secret=False, actor=owner
            )
        deployments[d["name"]] = deployment_deploy(
            component=c, environment=env, build=_build(c, d["image"], 500 + n),
            schedule=d["schedule"], timezone=d.get("timezone", "UTC"), actor=owner,
            policies=d.get("policies"),
        ).pk  # fmt: skip
    return {
        "user_id": owner.pk,
        "project_id": project.pk,
        "environment_ids": [e.pk for e in environments.values()],
        "components": {name: c.pk for name, c in components.items()},
        "deployments": deployments,
    }


def _build(component, image: str, n: int):
    """A succeeded build whose image is `image` (made beforehand, or "record")."""
    from django.utils import timezone

    from deployments.models import Build

    return Build.objects.create(
        component=component, commit_sha=f"{n:040x}", status=Build.Status.SUCCEEDED,
        preset="python", image_ref=image, image_digest=f"sha256:{n:064x}",
        finished_at=timezone.now(),
    )  # fmt: skip


def delete(seeded: dict) -> None:
    """Delete what `seed` made (its deployments' executions, logs and incidents too)."""
    from django.contrib.auth import get_user_model

    from deployments.models import Environment
    from portal.models import Project
    from tests.integration.executions.live import Created

    created = Created(
        users=list(get_user_model().objects.filter(pk=seeded["user_id"])),
        projects=list(Project.objects.filter(pk=seeded["project_id"])),
        environments=list(Environment.objects.filter(pk__in=seeded["environment_ids"])),
    )
    created.delete()


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def snapshot(deployment_ids: list[int]) -> dict[int, list[dict]]:
    """Every execution of these deployments with its log, oldest tick first (live.snapshot)."""
    from deployments.models import Deployment
    from tests.integration.executions.live import snapshot as rows_of

    return {pk: rows_of(Deployment(pk=pk)) for pk in deployment_ids}


def parse_snapshot(data: dict) -> dict[int, list[dict]]:
    """A snapshot read back from JSON: ids as numbers, times as datetimes."""
    out = {}
    for pk, rows in data.items():
        for row in rows:
            for key in ("scheduled_for", "due_at", "started_at", "finished_at"):
                if row.get(key):
                    row[key] = datetime.fromisoformat(row[key])
            row["log"] = [tuple(line) for line in row["log"]]
        out[int(pk)] = rows
    return out


def main(argv: list[str]) -> None:
    import django

    django.setup()
    command, arg = argv[0], json.loads(argv[1])
    if command == "seed":
        result = seed(arg)
    elif command == "snapshot":
        result = _plain(snapshot(arg))
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    main(sys.argv[1:])
