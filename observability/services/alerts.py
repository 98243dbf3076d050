"""Alert evaluation: incidents opened and closed by finished executions and periodic checks.

A finished execution is checked against the rules of its component and environment. A rule
that fires opens an Incident - at most one open per (rule, deployment), enforced by a partial
unique constraint - and only the worker whose INSERT created the incident queues the alert.
Retries of the same failing tick, later failures and redelivered hook messages find the
incident already open and send nothing. The next successful run closes the incident (again a
claim: UPDATE ... WHERE status='open') and queues exactly one recovery message.

Messages are AlertDelivery rows written in the same transaction as the incident change and
sent after commit (services/delivery.py), so a crash between the two leaves a pending row
that the periodic sweep sends, instead of a lost alert.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from deployments.models import Deployment, Execution

from ..models import AlertDelivery, AlertRule, Incident
from .delivery import delivery_send

log = logging.getLogger(__name__)

VERDICTS = (Execution.Status.SUCCEEDED, *Execution.FAILURES)


# --- evaluation ---------------------------------------------------------------------------
def rules_for(deployment: Deployment):
    return (
        AlertRule.objects.filter(component_id=deployment.component_id, enabled=True)
        .filter(Q(environment_id=deployment.environment_id) | Q(environment__isnull=True))
        .select_related("channel")
        .order_by("id")
    )


def _later(execution: Execution):
    """Executions of the same deployment that come after this one (later tick or attempt)."""
    return Execution.objects.filter(deployment_id=execution.deployment_id).filter(
        Q(scheduled_for__gt=execution.scheduled_for)
        | Q(scheduled_for=execution.scheduled_for, attempt__gt=execution.attempt)
    )


def _consecutive_failed_ticks(execution: Execution, n: int) -> bool:
    """Did the last n ticks up to this execution all end (so far) in failure?

    Counted per tick, not per attempt: a tick retried twice is one failed tick.
    """
    depth = min(500, n * (execution.deployment.max_retries + 1) + n + 5)
    rows = (
        Execution.objects.filter(
            deployment_id=execution.deployment_id,
            status__in=VERDICTS,
            scheduled_for__lte=execution.scheduled_for,
        )
        .order_by("-scheduled_for", "-attempt")
        .values_list("scheduled_for", "status")[:depth]
    )
    ticks: dict[dt.datetime, str] = {}
    for when, status in rows:
        ticks.setdefault(when, status)  # first seen = highest attempt of the tick
        if len(ticks) >= n:
            break
    return len(ticks) >= n and all(s in Execution.FAILURES for s in list(ticks.values())[:n])


def _fires(rule: AlertRule, execution: Execution) -> str | None:
    """The problem this execution shows under the rule, in words; None when it does not fire."""
    failed = execution.status in Execution.FAILURES
    kind = AlertRule.Kind
    if rule.kind in (kind.ON_FAILURE, kind.RECOVERY) and failed:
        return _failure_words(execution)
    if rule.kind == kind.CONSECUTIVE_FAILURES and failed:
        n = max(1, rule.threshold or 1)
        if _consecutive_failed_ticks(execution, n):
            return f"{n} consecutive ticks failed (last: {_failure_words(execution)})"
    if rule.kind == kind.ON_PARTIAL and execution.status == Execution.Status.PARTIAL:
        summary = (execution.result or {}).get("summary") or execution.reason
        return "partial result" + (f": {summary}" if summary else "")
    if rule.kind == kind.MISSED_TICK and execution.status == Execution.Status.MISSED:
        return "missed a tick" + (f": {execution.reason}" if execution.reason else "")
    if rule.kind == kind.LONG_RUN and rule.threshold:
        took = execution.duration_seconds
        if took is not None and took > rule.threshold:
            return f"a run took {took:.0f} s (limit {rule.threshold} s)"
    return None


def _failure_words(execution: Execution) -> str:
    if execution.status == Execution.Status.TIMED_OUT:
        return "run timed out"
    words = "run failed"
    if execution.exit_code is not None:
        words += f" with exit code {execution.exit_code}"
    if execution.reason:
        words += f" ({execution.reason})"
    return words


def alerts_evaluate_execution(*, execution_id: int) -> list[int]:
    """Open / close incidents for a finished execution; send what that queued.

    Returns the ids of the deliveries created.
    """
    with transaction.atomic():
        deliveries = _evaluate(execution_id)
    for delivery_id in deliveries:
        delivery_send(delivery_id=delivery_id)
    return deliveries


def alerts_any_ruled(*, execution_ids) -> bool:
    """Whether any of these executions belongs to a deployment that has an enabled rule.

    Asked once for every run that finishes (1,000 a minute on a busy installation), where the
    answer is nearly always no: one query written out in SQL, which costs a tenth of the CPU of
    building alerts_to_evaluate's two through the ORM. Rules are read as they are now.
    """
    ids = [int(i) for i in execution_ids]
    if not ids:
        return False
    sql = f"""
        SELECT 1 FROM "{Execution._meta.db_table}" e
        JOIN "{Deployment._meta.db_table}" d ON d."id" = e."deployment_id"
        WHERE e."id" IN ({", ".join(["%s"] * len(ids))}) AND EXISTS (
            SELECT 1 FROM "{AlertRule._meta.db_table}" r
            WHERE r."enabled" AND r."component_id" = d."component_id"
              AND (r."environment_id" IS NULL OR r."environment_id" = d."environment_id"))
        LIMIT 1
    """
    with connection.cursor() as cur:
        cur.execute(sql, ids)
        return cur.fetchone() is not None


def alerts_to_evaluate(*, execution_ids) -> dict[int, list[int]]:
    """The finished executions among these whose deployment has an enabled rule: their ids per
    deployment, in tick order.

    Most deployments have no rule: two queries tell which executions need evaluating, so a
    batch of them costs next to nothing. Rules are read as they are now (no cache): a rule
    created a second ago applies to the runs that finish after it.
    """
    rows = list(
        Execution.objects.filter(pk__in=list(execution_ids), status__in=Execution.FINISHED)
        .values_list(
            "pk",
            "deployment_id",
            "deployment__component_id",
            "deployment__environment_id",
            "scheduled_for",
            "attempt",
        )
        .order_by()
    )
    if not rows:
        return {}
    ruled = set(
        AlertRule.objects.filter(enabled=True, component_id__in={r[2] for r in rows})
        .values_list("component_id", "environment_id")
        .distinct()
        .order_by()
    )
    out: dict[int, list[int]] = {}
    for r in sorted(rows, key=lambda r: (r[1], r[4], r[5], r[0])):
        if (r[2], None) in ruled or (r[2], r[3]) in ruled:
            out.setdefault(r[1], []).append(r[0])
    return out


def alerts_evaluate_executions(*, execution_ids) -> list[int]:
    """Open / close incidents for those of these executions that alerts_to_evaluate names, in
    its order. Returns the ids of the deliveries created, committed but not sent: the caller
    sends them (delivery_send), or the periodic sweep does.
    """
    created: list[int] = []
    for ids in alerts_to_evaluate(execution_ids=execution_ids).values():
        for execution_id in ids:
            try:
                with transaction.atomic():
                    created += _evaluate(execution_id)
            except (OperationalError, InterfaceError):
                raise  # the database is gone: the whole batch is evaluated again later
            except Exception:  # noqa: BLE001 - one bad run must not hold back the others' alerts
                log.exception(
                    "observability: alert evaluation of execution %s failed", execution_id
                )
    return created


def _evaluate(execution_id: int) -> list[int]:
    execution = (
        Execution.objects.select_related(
            "deployment__component__project", "deployment__environment"
        )
        .filter(pk=execution_id)
        .first()
    )
    if execution is None or execution.status not in Execution.FINISHED:
        return []
    deployment = execution.deployment
    rules = list(rules_for(deployment))
    if not rules:
        return []
    later = _later(execution)
    # Hook messages can arrive out of order: a verdict that a later run already overturned
    # must neither open nor close anything.
    later_success = later.filter(status=Execution.Status.SUCCEEDED).exists()
    later_failure = later.filter(status__in=Execution.FAILURES).exists()
    created: list[int] = []
    for rule in rules:
        problem = _fires(rule, execution)
        if problem is not None:
            if later_success:
                continue
            incident = _incident_open(
                rule=rule, deployment=deployment, summary=problem, execution=execution
            )
            if incident is not None and rule.kind != AlertRule.Kind.RECOVERY:
                created.append(_queue(incident, AlertDelivery.Kind.ALERT, execution).pk)
        elif execution.status == Execution.Status.SUCCEEDED and not later_failure:
            incident = _incident_close(rule=rule, deployment=deployment, execution=execution)
            if incident is not None and (
                rule.notify_recovery or rule.kind == AlertRule.Kind.RECOVERY
            ):
                created.append(_queue(incident, AlertDelivery.Kind.RECOVERY, execution).pk)
    return created


def _incident_open(
    *, rule: AlertRule, deployment: Deployment, summary: str, execution: Execution | None = None
) -> Incident | None:
    """Create the incident, or None when one is already open (someone else alerted)."""
    try:
        with transaction.atomic():
            return Incident.objects.create(
                rule=rule, deployment=deployment, summary=summary[:300], opened_by=execution
            )
    except IntegrityError:
        return None


def _incident_close(*, rule: AlertRule, deployment: Deployment, execution) -> Incident | None:
    incident = (
        Incident.objects.select_for_update()
        .filter(rule=rule, deployment=deployment, status=Incident.Status.OPEN)
        .first()
    )
    if incident is None:
        return None
    claimed = Incident.objects.filter(pk=incident.pk, status=Incident.Status.OPEN).update(
        status=Incident.Status.CLOSED, closed_at=timezone.now(), closed_by=execution
    )
    if claimed != 1:
        return None
    incident.refresh_from_db()
    return incident


def _queue(incident: Incident, kind: str, execution: Execution | None) -> AlertDelivery:
    subject, message = _render(incident, kind, execution)
    return AlertDelivery.objects.create(
        incident=incident,
        channel=incident.rule.channel,
        kind=kind,
        subject=subject,
        message=message,
    )


def _execution_url(deployment: Deployment, execution: Execution | None) -> str:
    base = settings.CHORUS_BASE_URL.rstrip("/")
    project = deployment.component.project.slug
    if execution is None:
        return f"{base}/p/{project}/c/{deployment.component.name}/dashboard/"
    return f"{base}/p/{project}/executions/{execution.pk}/"


def _render(incident: Incident, kind: str, execution: Execution | None) -> tuple[str, str]:
    d = incident.deployment
    where = f"{d.component.project.slug}/{d.component.name} ({d.environment.name})"
    url = _execution_url(d, execution)
    if kind == AlertDelivery.Kind.RECOVERY:
        subject = f"[Chorus] RECOVERED {where}"
        opened = incident.opened_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        body = (
            f"{where} recovered: execution #{execution.pk if execution else '?'} succeeded. "
            f"The incident open since {opened} ({incident.summary}) is closed. {url}"
        )
    else:
        subject = f"[Chorus] ALERT {where}: {incident.summary}"[:200]
        tick = ""
        if execution is not None:
            when = execution.scheduled_for.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            tick = f" Execution #{execution.pk}, tick {when}, attempt {execution.attempt}."
        body = f"{where}: {incident.summary}.{tick} {url}"
    return subject, body


# --- periodic checks ----------------------------------------------------------------------
def alerts_check_running(*, now: dt.datetime | None = None) -> list[int]:
    """Alert on runs that are still going past a long_run limit (not only once they end)."""
    now = now or timezone.now()
    created: list[int] = []
    rules = AlertRule.objects.filter(kind=AlertRule.Kind.LONG_RUN, enabled=True, threshold__gt=0)
    for rule in rules.select_related("channel"):
        running = Execution.objects.filter(
            status=Execution.Status.RUNNING,
            deployment__component_id=rule.component_id,
            started_at__lt=now - dt.timedelta(seconds=rule.threshold),
        ).select_related("deployment__component__project", "deployment__environment")
        if rule.environment_id:
            running = running.filter(deployment__environment_id=rule.environment_id)
        for execution in running.order_by("started_at")[:50]:
            took = (now - execution.started_at).total_seconds()
            summary = f"a run has been going for {took:.0f} s (limit {rule.threshold} s)"
            with transaction.atomic():
                incident = _incident_open(
                    rule=rule, deployment=execution.deployment, summary=summary, execution=execution
                )
                if incident is not None:
                    created.append(_queue(incident, AlertDelivery.Kind.ALERT, execution).pk)
    for delivery_id in created:
        delivery_send(delivery_id=delivery_id)
    return created


def alerts_check_overdue(*, now: dt.datetime | None = None) -> list[int]:
    """missed_tick rules also fire when a tick passed with no execution recorded at all.

    The scheduler records a missed tick as a `missed` row when it notices; when it is down it
    notices nothing, which is exactly when someone must be told. A tick is overdue once its
    starting deadline and CHORUS_ALERT_OVERDUE_GRACE_SECONDS have passed without a row.
    """

    now = now or timezone.now()
    grace = dt.timedelta(seconds=settings.CHORUS_ALERT_OVERDUE_GRACE_SECONDS)
    created: list[int] = []
    rules = AlertRule.objects.filter(kind=AlertRule.Kind.MISSED_TICK, enabled=True)
    for rule in rules.select_related("channel"):
        deployments = Deployment.objects.filter(
            component_id=rule.component_id, status=Deployment.Status.ACTIVE
        ).select_related("component__project", "environment")
        if rule.environment_id:
            deployments = deployments.filter(environment_id=rule.environment_id)
        for d in deployments:
            latest = (
                Execution.objects.filter(deployment=d)
                .order_by("-scheduled_for")
                .values_list("scheduled_for", flat=True)
                .first()
            )
            base = max(t for t in (latest, d.last_tick_at, d.created_at) if t is not None)
            deadline = now - grace - dt.timedelta(seconds=d.starting_deadline_seconds)
            try:
                ticks = d.parsed_schedule().ticks_between(base, deadline, d.timezone, limit=1)
            except Exception:  # noqa: BLE001 - a bad schedule is the deploy page's problem
                continue
            if not ticks:
                continue
            when = ticks[0].strftime("%Y-%m-%d %H:%M:%S UTC")
            summary = f"no run was recorded for the tick at {when} (is the scheduler running?)"
            with transaction.atomic():
                incident = _incident_open(rule=rule, deployment=d, summary=summary)
                if incident is not None:
                    created.append(_queue(incident, AlertDelivery.Kind.ALERT, None).pk)
    for delivery_id in created:
        delivery_send(delivery_id=delivery_id)
    return created
