"""The fault matrix's one timeline: real PostgreSQL, Redis, Docker engine, Celery beats and
executions workers, faults injected with SIGKILL; independent faults overlap so the whole
matrix costs about four minutes.

  0 s      two beats and two executions workers start; 20 deployments `@every 2s` (Docker,
           Forbid, each task sleeps a while, so most ticks are skipped and the engine is
           not asked for more containers than two cores start);
  ~10 s    three manual runs on a third worker ("doomed"): a Docker task printing for 12 s,
           a local-runtime (bubblewrap) task printing for 12 s, a Docker task sleeping for
           minutes; an orphan container; the doomed worker is SIGKILLed mid-run; once the
           broker's visibility timeout has passed it is started again with a short one, so
           the unacknowledged messages are redelivered; the reconciler (on the beats) adopts
           what the tasks left;
  160 s    three catch-up deployments `@every 2s` (none, latest, all);
  180 s    both beats SIGKILLed; 30 s without a beat; one beat started again and catches up.

Every container start of this installation is counted per execution from the engine's event
stream (engine.py); the snapshot holds rows, logs, events and process logs as plain values.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from tests.integration.executions.live import (
    PROCESS_ENV,
    Created,
    containers_of,
    docker_client,
    snapshot,
    task_image,
    wait_until,
)
from tests.integration.executions.test_live import live_build, live_component
from tests.support.processes import Proc, flush_broker, start_beat, start_worker

from .engine import ContainerEvents, Starts

TICKERS = 20
TICK_SECONDS = 20  # how long each ticker's task sleeps: a start every ~22 s per deployment
TWO_BEATS_SECONDS = 180
OUTAGE_SECONDS = 30
CATCHUP_DEPLOY_AT = 160
# The restarted doomed worker's broker visibility timeout (CELERY_VISIBILITY_TIMEOUT).
VISIBILITY_TIMEOUT = 10
ORPHAN_EXECUTION = 999_999_999
LINES = 12
PRINTER = (
    f"i=1; while [ $i -le {LINES} ]; do echo line-$i; i=$((i+1)); sleep 1; done; "
    "echo the-end >&2; exit 3"
)
LOCAL_PRINTER = (
    "import sys, time\n"
    f"for i in range(1, {LINES + 1}):\n"
    "    print(f'line-{i}', flush=True)\n"
    "    time.sleep(1)\n"
    "print('the-end', file=sys.stderr, flush=True)\n"
    "sys.exit(3)\n"
)
# A worker is taken for lost once its runs' heartbeat is this old: longer than what is left of
# the printers' 12 s when their worker is killed, so the reconciler finds them ended; and
# longer than the production default (20 s), because a live worker writes no heartbeat between
# its container's exit and the run's record (engine calls, the batch gate), which on a machine
# as loaded as a shared test host can take more than 20 s.
STALE_SECONDS = 30
MAIN_ENV = {**PROCESS_ENV, "CHORUS_EXECUTION_STALE_SECONDS": str(STALE_SECONDS)}


@dataclass
class Outcome:
    """What happened, as plain values (the processes and rows are gone by the time tests run)."""

    tickers: dict = field(default_factory=dict)  # deployment pk -> (schedule, seed, rows)
    catchup: dict = field(default_factory=dict)  # policy -> rows
    doomed: dict = field(default_factory=dict)  # name -> row
    starts: Starts | None = None
    two_beats_from: datetime | None = None
    beats_killed_at: datetime | None = None
    beat_back_at: datetime | None = None
    beat_logs: list[str] = field(default_factory=list)
    doomed_log: str = ""
    redelivered_log: str = ""
    task_ids: dict = field(default_factory=dict)  # name -> celery task id
    doomed_pks: list = field(default_factory=list)  # every run started on the doomed worker
    doomed_killed_at: datetime | None = None
    stored_at_kill: dict = field(default_factory=dict)  # name -> task lines stored by then
    containers_left: dict = field(default_factory=dict)
    local_runs_left: list = field(default_factory=list)


def _project(created: Created, username: str, name: str):
    from django.contrib.auth import get_user_model

    from portal.services import project_create

    owner = get_user_model().objects.create_user(username, password="x-fault-pass-1")
    created.users.append(owner)
    project = project_create(name=name, actor=owner)
    created.projects.append(project)
    return owner, project


def _environment(created: Created, slug: str, order: int, runtime: str, queue: str = ""):
    from deployments.models import Environment

    env = Environment.objects.create(
        name=slug.replace("-", " ").title(), slug=slug, order=order, runtime_kind=runtime,
        queue=queue,
    )  # fmt: skip
    created.environments.append(env)
    return env


def _local_image(tmp: Path):
    from deployments.runtimes.local.runtime import LocalRuntime

    source = tmp / "printer"
    source.mkdir(parents=True, exist_ok=True)
    (source / "Dockerfile").write_text('FROM x\nCMD ["python3", "-u", "main.py"]\n')
    (source / "main.py").write_text(LOCAL_PRINTER)
    return LocalRuntime().build(source_dir=source, tag="faults/printer", log=lambda *a: None)


def _deploy(component, env, build, schedule: str, owner, **policies):
    from deployments.deploy.services.lifecycle import deployment_deploy

    return deployment_deploy(
        component=component, environment=env, build=build, schedule=schedule, timezone="UTC",
        actor=owner, policies=policies,
    )  # fmt: skip


def _task_lines(execution_id: int) -> int:
    from deployments.models import ExecutionLogLine

    return ExecutionLogLine.objects.filter(
        execution_id=execution_id, text__startswith="line-"
    ).count()


def _finished(pk: int) -> bool:
    from deployments.models import Execution

    return Execution.objects.get(pk=pk).is_finished


def _engine(call, *args, **kwargs):
    """A call to the Docker engine, tried again while it does not answer (a busy machine's
    engine may take more than the client's 2 s ping to answer)."""
    from deployments.runtimes.base import RuntimeUnavailable

    for attempt in range(10):
        try:
            return call(*args, **kwargs)
        except RuntimeUnavailable:
            if attempt == 9:
                raise
            time.sleep(3)
    return None


def _docker_runs_started(doomed: dict, owner, out: Outcome) -> dict:
    """The doomed worker's two Docker runs, both started; new runs when the engine (on a
    saturated machine) refused the first ones."""
    from deployments.executions.actions import execution_run_now

    for _attempt in range(3):
        runs = {
            name: execution_run_now(deployment=doomed[name], actor=owner)
            for name in ("docker", "stuck")
        }
        out.doomed_pks += [e.pk for e in runs.values()]

        def state(runs=runs) -> str:
            if any(_finished(e.pk) for e in runs.values()):
                return "refused"
            if _task_lines(runs["docker"].pk) >= 1 and _engine(containers_of, runs["stuck"].pk):
                return "running"
            return ""

        if wait_until(state, timeout=90, step=0.1, what="the doomed containers") == "running":
            return runs
    raise AssertionError("the engine refused the doomed worker's runs three times")


def _sleep_until(start: float, seconds: float) -> None:
    time.sleep(max(0.0, start + seconds - time.monotonic()))


def run(tmp: Path) -> Outcome:  # noqa: PLR0915 - one timeline, read top to bottom
    from django.utils import timezone

    from deployments.executions.actions import execution_run_now
    from deployments.installation import LABEL, installation_id
    from deployments.models import Build, Execution
    from deployments.runtimes.local.runtime import LocalRuntime

    out = Outcome()
    sleeper_image = _engine(task_image, f"echo tick $CHORUS_SCHEDULED_AT; sleep {TICK_SECONDS}")
    printer_image = _engine(task_image, PRINTER)
    stuck_image = _engine(task_image, "echo started; sleep 300")
    caught_image = _engine(task_image, "echo caught $CHORUS_TRIGGER $CHORUS_SCHEDULED_AT")
    local = _local_image(tmp)
    created = Created()
    procs: list[Proc] = []
    orphan = None
    events = None
    try:
        docker_env = _environment(created, "faults-docker", 96, "docker")
        doomed_docker = _environment(created, "faults-doomed-docker", 97, "docker", "faults-doomed")
        doomed_local = _environment(created, "faults-doomed-local", 98, "local", "faults-doomed")
        owner, project = _project(created, "faults-owner", "Fault matrix")

        tickers = []
        for n in range(TICKERS):
            c = live_component(project, owner, f"ticker-{n:02d}")
            tickers.append(
                _deploy(
                    c,
                    docker_env,
                    live_build(c, sleeper_image, 100 + n),
                    "@every 2s",
                    owner,
                    concurrency_policy="forbid",
                    starting_deadline_seconds=20,
                    catchup_policy="none",
                    timeout_seconds=120,
                )  # fmt: skip
            )
        doomed = {}
        for name, env, image, n in (
            ("docker", doomed_docker, printer_image, 201),
            ("stuck", doomed_docker, stuck_image, 202),
        ):
            c = live_component(project, owner, f"doomed-{name}")
            doomed[name] = _deploy(
                c, env, live_build(c, image, n), "0 0 1 1 *", owner, timeout_seconds=600,
                concurrency_policy="allow",
            )  # fmt: skip
        c = live_component(project, owner, "doomed-local")
        local_build = Build.objects.create(
            component=c, commit_sha=f"{203:040x}", status=Build.Status.SUCCEEDED,
            preset="python", image_ref=local.ref, image_digest=local.digest,
            runtime_kind="local", finished_at=timezone.now(),
        )  # fmt: skip
        doomed["local"] = _deploy(
            c, doomed_local, local_build, "0 0 1 1 *", owner, timeout_seconds=600
        )

        flush_broker()
        events = _engine(ContainerEvents, installation_id())
        for i in (1, 2):
            procs.append(
                start_worker(
                    f"faults-exec-{i}",
                    pool="threads",
                    concurrency=32,
                    queues="chorus,executions",
                    extra_env=MAIN_ENV,
                )  # fmt: skip
            )
        doomed_worker = start_worker(
            "faults-doomed", pool="threads", concurrency=4, queues="faults-doomed",
            extra_env=MAIN_ENV,
        )  # fmt: skip
        procs.append(doomed_worker)
        beats = [start_beat(f"faults-beat-{i}", extra_env=MAIN_ENV) for i in (1, 2)]
        procs += beats
        began = time.monotonic()
        out.two_beats_from = timezone.now()

        # --- an executions worker SIGKILLed mid-run; its messages redelivered ----------------
        # The Docker tasks first (the engine may take seconds to start them on a busy
        # machine), the local one once they print (bubblewrap starts at once): all three are
        # mid-run when the worker dies.
        runs = _docker_runs_started(doomed, owner, out)
        runs["local"] = execution_run_now(deployment=doomed["local"], actor=owner)
        out.doomed_pks.append(runs["local"].pk)
        sent = time.monotonic()
        out.task_ids = {name: e.celery_task_id for name, e in runs.items()}
        wait_until(
            lambda: all(_task_lines(runs[n].pk) >= 2 for n in ("docker", "local")),
            timeout=60, step=0.1, what="the doomed worker's tasks to print",
        )  # fmt: skip
        client = _engine(docker_client)
        try:
            orphan = client.containers.run(
                stuck_image, detach=True,
                labels={"chorus.managed": "true", "org.chorus.managed": "true",
                        "chorus.execution": str(ORPHAN_EXECUTION), LABEL: installation_id()},
            )  # fmt: skip
        finally:
            client.close()
        doomed_worker.kill(signal.SIGKILL)
        out.doomed_killed_at = timezone.now()
        out.stored_at_kill = {n: _task_lines(runs[n].pk) for n in ("docker", "local")}
        out.doomed_log = doomed_worker.output()
        # The messages were handed to the dead worker and never acknowledged: a worker whose
        # visibility timeout has passed since then puts them back on the queue at its start.
        _sleep_until(sent, VISIBILITY_TIMEOUT + 2)
        again = start_worker(
            "faults-doomed-again", pool="threads", concurrency=4, queues="faults-doomed",
            extra_env={**MAIN_ENV, "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT)},
        )  # fmt: skip
        procs.append(again)
        for e in runs.values():
            wait_until(lambda e=e: _finished(e.pk), timeout=120, what=f"execution {e.pk} to end")
        wait_until(
            lambda: not _engine(containers_of, ORPHAN_EXECUTION),
            timeout=60,
            what="the orphan's removal",
        )
        wait_until(
            lambda: all(t in again.output() for t in out.task_ids.values()),
            timeout=30, what="the redelivered messages",
        )  # fmt: skip
        out.redelivered_log = again.output()
        out.doomed = {
            name: next(r for r in snapshot(doomed[name]) if r["pk"] == e.pk)
            for name, e in runs.items()
        }
        out.containers_left = {
            name: _engine(containers_of, e.pk) for name, e in runs.items() if name != "local"
        }
        out.local_runs_left = LocalRuntime().find({"chorus.execution": str(runs["local"].pk)})

        # --- catch-up deployments join, then no beat for 30 s ---------------------------------
        _sleep_until(began, CATCHUP_DEPLOY_AT)
        catchup = {}
        for n, policy in enumerate(("none", "latest", "all")):
            c = live_component(project, owner, f"catchup-{policy}")
            catchup[policy] = _deploy(
                c, docker_env, live_build(c, caught_image, 300 + n), "@every 2s", owner,
                # A tick is "late" (the catch-up policy's) 1 s after it was due.
                concurrency_policy="allow", starting_deadline_seconds=1,
                catchup_policy=policy, catchup_window_seconds=600,
            )  # fmt: skip
        _sleep_until(began, TWO_BEATS_SECONDS)
        for beat in beats:
            beat.kill(signal.SIGKILL)
        out.beats_killed_at = timezone.now()
        out.beat_logs = [beat.output() for beat in beats]
        time.sleep(OUTAGE_SECONDS)
        out.beat_back_at = timezone.now()
        procs.append(start_beat("faults-beat-3", extra_env=MAIN_ENV))
        back = out.beat_back_at

        def caught_up() -> bool:
            for d in catchup.values():
                rows = Execution.objects.filter(deployment=d)
                if not rows.filter(trigger="schedule", scheduled_for__gt=back).exists():
                    return False
                if rows.filter(scheduled_for__lt=back, status__in=["pending", "running"]):
                    return False
            return True

        wait_until(caught_up, timeout=150, what="the restarted beat to catch up")
        procs.pop().stop()  # no more ticks; let the runs under way end
        wait_until(
            lambda: not Execution.objects.filter(
                deployment__component__project=project, status="running"
            ).exists(),
            timeout=150, what="the runs under way to end",
        )  # fmt: skip
        # Workers stopped before the snapshot, so no row is claimed after the events end. On a
        # busy machine some ticks may still wait for a worker: they stay pending (no container).
        while procs:
            procs.pop().stop()
        time.sleep(1)  # the engine's last events
        out.starts = events.stop()
        events = None
        out.tickers = {d.pk: (d.schedule, d.schedule_seed, snapshot(d)) for d in tickers}
        out.catchup = {policy: snapshot(d) for policy, d in catchup.items()}
    finally:
        for p in procs:
            p.stop()
        if events is not None:
            events.stop()
        if orphan is not None:
            try:
                orphan.remove(force=True)
            except Exception:  # noqa: BLE001 - already removed by the reconciler
                pass
        created.delete()
        try:
            LocalRuntime().remove_image(local.ref)
        except Exception:  # noqa: BLE001 - a leftover image dir only costs disk
            pass
    return out
