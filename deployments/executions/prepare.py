"""What a claimed run needs before it starts, read for a whole batch at once (claims.py claims,
this module prepares): configuration and secrets through the deploy service, the stored
snapshot for a re-run of an older revision, the context counts, and its environment from a
short per-process cache (environments rarely change; thousands of runs of one tick share a
few).
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from django.db.models import Count, Max, Q

from components.manifest.config import config_defaults
from deployments.executions.claims import RAN, Started, ids_in
from deployments.executions.snapshots import config_snapshots_load
from deployments.models import Build, ConfigVar, Environment, Execution

Status = Execution.Status
Trigger = Execution.Trigger

ENVIRONMENT_CACHE_SECONDS = 5.0


_env_lock = threading.Lock()
_env_cache: dict[int, tuple[float, Environment]] = {}


def environment(pk: int) -> Environment:
    now = time.monotonic()
    with _env_lock:
        hit = _env_cache.get(pk)
        if hit and now - hit[0] < ENVIRONMENT_CACHE_SECONDS:
            return hit[1]
    env = Environment.objects.get(pk=pk)
    with _env_lock:
        _env_cache[pk] = (now, env)
    return env


def environment_forget(sender, instance, **kwargs) -> None:
    """post_save/post_delete of an Environment (connected in DeploymentsConfig.ready()): a
    change saved in this process is seen at once (other processes: within
    ENVIRONMENT_CACHE_SECONDS)."""
    with _env_lock:
        _env_cache.pop(instance.pk, None)


def environment_cache_clear() -> None:
    """Forget every cached environment (a rolled-back change sends no signal)."""
    with _env_lock:
        _env_cache.clear()


def prepare_started(claimed: list[int]) -> dict[int, Started]:
    """What each claimed run needs to start, read for the whole batch at once: its deployment,
    configuration and secrets (of its revision, for a re-run of an older one), its
    environment, and the counts its CHORUS_* context reports."""
    from deployments.deploy.services.config import deployment_runtime_env

    # The deployment's component, project and environment with it: the run's CHORUS_* context
    # (the schedule's seed) and its configuration read them, one query per run otherwise.
    executions = list(
        Execution.objects.select_related(
            "deployment__component__project", "deployment__environment"
        ).filter(pk__in=ids_in(claimed))
    )
    deployments = {e.deployment_id: e.deployment for e in executions}
    stats = {
        row["deployment_id"]: row
        for row in Execution.objects.filter(deployment_id__in=ids_in(list(deployments)))
        .values("deployment_id")
        .annotate(
            count=Count("pk", filter=Q(status__in=RAN)),
            last=Max("scheduled_for", filter=Q(status=Status.SUCCEEDED)),
        )
    }
    # Config and secrets through the deploy service, only for deployments that have any.
    with_config = set(
        ConfigVar.objects.filter(
            component_id__in={d.component_id for d in deployments.values()},
            environment_id__in={d.environment_id for d in deployments.values()},
        )
        .values_list("component_id", "environment_id")
        .distinct()
    )
    # Defaults declared in a build's chorus.toml fill the keys an environment leaves unset; a
    # run gets those of the build it runs (a re-run may run an earlier build).
    builds = {
        b.pk: b
        for b in Build.objects.filter(pk__in={e.build_id for e in executions if e.build_id})
        .exclude(manifest={})
        .only("pk", "manifest")
    }
    config: dict[tuple, tuple[dict, list]] = {}
    for e in executions:
        d, build = e.deployment, builds.get(e.build_id)
        key = (d.pk, e.build_id)
        if key not in config and (
            (d.component_id, d.environment_id) in with_config or build is not None
        ):
            config[key] = deployment_runtime_env(
                deployment=d, defaults=config_defaults(build.manifest if build else None)
            )
    # Re-runs of an older revision run with that revision's stored configuration.
    older = {
        (e.deployment_id, e.config_revision)
        for e in executions
        if e.trigger == Trigger.RERUN and e.config_revision != e.deployment.config_revision
    }
    snapshots = config_snapshots_load(older)
    in_batch = Counter(e.deployment_id for e in executions)
    out: dict[int, Started] = {}
    for e in executions:
        d = e.deployment
        stat = stats.get(d.pk, {})
        env, secrets = config.get((d.pk, e.build_id), ({}, []))
        if (d.pk, e.config_revision) in older:
            if (d.pk, e.config_revision) in snapshots:
                env, secrets = snapshots[(d.pk, e.config_revision)]
            else:  # not stored: the current one, and the execution says so
                e.config_revision = d.config_revision
                Execution.objects.filter(pk=e.pk).update(config_revision=e.config_revision)
        same_deployment_now = in_batch[d.pk]
        out[e.pk] = Started(
            execution=e,
            environment=environment(d.environment_id),
            config=env,
            secrets=secrets,
            executions_before=max(0, (stat.get("count") or 0) - same_deployment_now),
            last_success_at=stat.get("last"),
        )
    return out
