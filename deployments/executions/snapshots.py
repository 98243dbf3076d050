"""The configuration each run used, kept per config revision so a re-run can use it again.

A run stores the variables and secret values it started with under (deployment, config
revision), encrypted as one blob with portal.crypto, once per revision (a process remembers
which it already stored, so a tick of thousands of runs costs one INSERT per new revision). A
re-run of a run whose revision has a snapshot runs with that configuration; without one (the run
is older than snapshots, or its snapshot was pruned) it runs with the current configuration and
records the current revision, so the revision on an execution always says what it ran with.
Retention drops the snapshots no execution refers to any more.
"""

from __future__ import annotations

import json
import logging
import threading

from django.db.models import Q

from deployments.models import ConfigSnapshot, Deployment, Execution
from portal.crypto import DecryptionError, decrypt, encrypt

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_stored: set[tuple] = set()


def config_snapshot_save(
    *, deployment: Deployment, revision: int, env: dict[str, str], secrets: list[str]
) -> None:
    """Store what a run of this revision used, unless it is stored already."""
    deployment_id = deployment.pk
    # created_at too: an id alone can come back (SQLite after a rollback), a creation time not.
    key = (deployment_id, deployment.created_at, revision)
    if not revision:
        return
    with _lock:
        if key in _stored:
            return
    data = encrypt(json.dumps({"env": env, "secrets": secrets}))
    ConfigSnapshot.objects.bulk_create(
        [ConfigSnapshot(deployment_id=deployment_id, revision=revision, data_encrypted=data)],
        ignore_conflicts=True,
    )
    with _lock:
        _stored.add(key)


def config_snapshot_exists(*, deployment_id: int, revision: int) -> bool:
    return ConfigSnapshot.objects.filter(deployment_id=deployment_id, revision=revision).exists()


def config_snapshots_load(
    keys: set[tuple[int, int]],
) -> dict[tuple[int, int], tuple[dict[str, str], list[str]]]:
    """{(deployment id, revision): (variables, secret values)} for the stored ones among keys."""
    if not keys:
        return {}
    where = Q()
    for deployment_id, revision in keys:
        where |= Q(deployment_id=deployment_id, revision=revision)
    out = {}
    for deployment_id, revision, blob in ConfigSnapshot.objects.filter(where).values_list(
        "deployment_id", "revision", "data_encrypted"
    ):
        try:
            data = json.loads(decrypt(blob))
        except (DecryptionError, ValueError):
            logger.warning(
                "config snapshot of deployment %s revision %s cannot be read; using the "
                "current configuration",
                deployment_id,
                revision,
            )
            continue
        out[(deployment_id, revision)] = (dict(data["env"]), list(data["secrets"]))
    return out


def config_snapshots_prune(*, deployment: Deployment) -> int:
    """Drop the snapshots of revisions that are neither current nor used by an execution."""
    used = Execution.objects.filter(deployment_id=deployment.pk).values("config_revision")
    deleted, _ = (
        ConfigSnapshot.objects.filter(deployment_id=deployment.pk)
        .exclude(revision=deployment.config_revision)
        .exclude(revision__in=used)
        .delete()
    )
    return deleted
