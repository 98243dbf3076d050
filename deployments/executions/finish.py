"""Finishing a run: its final status and last log line in one commit, the retry its policy
asks for, and the news to observability. Every way a run ends comes through here once."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from deployments.executions.claims import SCHEDULED
from deployments.executions.dispatch import (
    dispatch_on_commit,
    finished_on_commit,
    insert_claiming,
    new_task_id,
)
from deployments.logs import LogWriter, mask_secrets
from deployments.models import Execution, ExecutionLogLine

Status = Execution.Status
Trigger = Execution.Trigger

# Retries further away than this are not published with an ETA (Redis would redeliver an
# unacknowledged message after its visibility timeout); the reconciler publishes them when due.
ETA_MAX = timedelta(hours=1)


def _summary(status: str, reason: str, exit_code, duration: float | None) -> str:
    took = f" in {duration:.1f} s" if duration is not None else ""
    if status == Status.SUCCEEDED:
        return f"[chorus] succeeded (exit code 0){took}"
    if status == Status.PARTIAL:
        return f"[chorus] partial (exit code 0){took}: {reason}"
    if status == Status.FAILED:
        code = f", exit code {exit_code}" if exit_code is not None else ""
        return f"[chorus] failed{code}{took}: {reason}"
    return f"[chorus] {status.replace('_', ' ')}{took}: {reason}"


def _retry(execution: Execution, now) -> tuple[Execution | None, str]:
    """The next attempt of a failed scheduled execution, if the policy allows one."""
    d = execution.deployment
    if execution.trigger not in SCHEDULED:
        return None, ""
    if execution.attempt > d.max_retries:
        if d.max_retries:
            return None, f"[chorus] no retry left ({d.max_retries} retries allowed)"
        return None, ""
    delay = d.retry_delay_seconds * 2 ** (execution.attempt - 1)
    due = now + timedelta(seconds=delay)
    nxt = Execution(
        deployment_id=d.pk,
        scheduled_for=execution.scheduled_for,
        attempt=execution.attempt + 1,
        trigger=Trigger.RETRY,
        status=Status.PENDING,
        queued_at=now,
        due_at=due,
        build_id=execution.build_id,
        image_ref=execution.image_ref,
        image_digest=execution.image_digest,
        config_revision=execution.config_revision,
        payload=execution.payload,
        parent_id=execution.pk,
        celery_task_id=new_task_id() if due - now <= ETA_MAX else "",
    )
    return nxt, (
        f"[chorus] retrying in {delay} s as attempt {nxt.attempt} of {d.max_retries + 1} "
        f"(backoff {d.retry_delay_seconds} s × 2^{execution.attempt - 1})"
    )


def execution_finish(
    *,
    execution: Execution,
    status: str,
    reason: str = "",
    exit_code: int | None = None,
    log: LogWriter | None = None,
    expect: tuple[str, ...] = (Status.RUNNING,),
    where: Q | None = None,
    extra: dict | None = None,
    finished_at=None,
) -> bool:
    """Record the final status of a running execution (once), schedule a retry if due, and
    tell observability. False when it was already finished by someone else.

    `finished_at`: when it really ended, if not now (the reconciler adopting a container that
    exited while no worker watched it)."""
    now = timezone.now()
    ended = finished_at or now
    extra = dict(extra or {})
    started = extra.get("started_at") or execution.started_at
    duration = max(0.0, (ended - started).total_seconds()) if started else None
    retry, retry_line = (None, "")
    if status in Execution.FAILURES:
        retry, retry_line = _retry(execution, now)
    if log is None:
        log = LogWriter(owner=execution, line_model=ExecutionLogLine, fk_name="execution")
    # The reason goes to the API, the pages and alert messages: masked like the log.
    reason = mask_secrets(reason or "", log.secrets)
    # The last lines and the final status commit together: the live view never shows a
    # finished execution without its last line.
    with transaction.atomic():
        done = (
            Execution.objects.filter(pk=execution.pk, status__in=expect)
            .filter(where or Q())
            .update(
                status=status,
                reason=(reason or "")[:300],
                exit_code=exit_code,
                finished_at=ended,
                duration_seconds=duration,
                **extra,
            )
            == 1
        )
        if not done:
            transaction.set_rollback(True)
        else:
            if retry_line:
                log(retry_line, "chorus")
            summary = _summary(status, reason, exit_code, duration)
            if log.truncated:
                log.final(summary)
            else:
                log(summary, "chorus")
            log.flush(update_owner=False)
            Execution.objects.filter(pk=execution.pk).update(
                log_bytes=log.bytes, log_truncated=log.truncated
            )
            finished_on_commit([execution.pk])
            if retry is not None:
                created = insert_claiming([retry])
                if created and retry.celery_task_id:
                    dispatch_on_commit([(retry.pk, retry.celery_task_id, retry.due_at)])
    if not done:
        log.close()  # lines written before someone else ended it stay visible
        return False
    execution.status, execution.reason, execution.exit_code = status, reason, exit_code
    execution.finished_at, execution.duration_seconds = ended, duration
    for key, value in extra.items():
        setattr(execution, key, value)
    return True
