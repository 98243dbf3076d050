"""What a request was made against, the diff it shows, and whether it went stale.

A request keeps a `basis`: the build its source environment ran (promotions) and the target
deployment's state (build, schedule, timezone, payload, status, policies) when it was made or
last refreshed. At approval the basis is taken again; any difference makes the request stale,
so an owner never applies a change whose diff they have not seen.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from deployments.approvals.models import ApprovalRequest
from deployments.deploy.selectors import live_deployment
from deployments.deploy.services.rules import POLICY_FIELDS, POLICY_LABELS
from deployments.models import Build, Deployment
from deployments.payloads import payload_words
from deployments.schedules.parsing import describe


def _state(d: Deployment | None) -> dict | None:
    if d is None:
        return None
    return {
        "build": d.build_id,
        "schedule": d.schedule,
        "timezone": d.timezone,
        "payload": d.payload,
        "status": d.status,
        "policies": {f: getattr(d, f) for f in POLICY_FIELDS},
    }


def basis_now(*, component, environment, source_environment=None) -> dict:
    source = live_deployment(component=component, environment=source_environment)
    return {
        "source_build": source.build_id if source else None,
        "target": _state(live_deployment(component=component, environment=environment)),
    }


def staleness(approval: ApprovalRequest) -> str:
    """Why a pending request no longer matches the current state ("" when it still does)."""
    now = basis_now(
        component=approval.component,
        environment=approval.environment,
        source_environment=approval.source_environment,
    )
    then = approval.basis or {}
    reasons = []
    if approval.action == ApprovalRequest.Action.PROMOTE:
        src = approval.source_environment.name if approval.source_environment else "the source"
        if now["source_build"] is None:
            reasons.append(f"nothing is deployed in {src} any more")
        elif now["source_build"] != then.get("source_build"):
            reasons.append(
                f"{src} moved on to build #{now['source_build']} "
                f"(the request was for build #{then.get('source_build')})"
            )
    before, after = then.get("target"), now["target"]
    if before != after:
        env = approval.environment.name
        reasons.append(f"{env} changed since the request ({_changes(before, after)})")
    return "; ".join(reasons)


def _changes(before: dict | None, after: dict | None) -> str:
    if before is None:
        return "it was deployed meanwhile"
    if after is None:
        return "it was undeployed meanwhile"
    out = []
    if before["build"] != after["build"]:
        out.append(f"build #{before['build']} → #{after['build']}")
    for key in ("schedule", "timezone", "status"):
        if before[key] != after[key]:
            out.append(f"{key} {before[key]} → {after[key]}")
    if before["payload"] != after["payload"]:
        out.append(
            f"payload {payload_words(before['payload'])} → {payload_words(after['payload'])}"
        )
    for key, value in after["policies"].items():
        if before["policies"].get(key) != value:
            out.append(f"{POLICY_LABELS[key]} {before['policies'].get(key)} → {value}")
    return "; ".join(out) or "changed"


# --- the diff ---------------------------------------------------------------------------------
def build_label(build: Build | None) -> str:
    """As the promotion page shows an image: id, commit, digest (or reference)."""
    if build is None:
        return "—"
    digest = build.image_digest[:19] if build.image_digest else build.image_ref
    return f"#{build.pk} · {build.short_sha} · {digest}"


def _words(expr: str) -> str:
    try:
        return f"{expr} — {describe(expr)}"
    except ValidationError:
        return expr


def diff_rows(
    *, action: str, component, environment, source_environment=None, build=None, params
) -> list[dict]:
    """Rows of {label, before, after, changed}: the target now and after the change."""
    target = live_deployment(component=component, environment=environment)
    source = live_deployment(component=component, environment=source_environment)
    base = target or source  # a first promotion starts from the source's settings
    after_build = build if build is not None else (target.build if target else None)
    schedule = params.get("schedule") or (base.schedule if base else "")
    tz = params.get("timezone") or (base.timezone if base else "")
    if params.get("payload_set"):
        payload = params.get("payload")
    else:
        payload = base.payload if base else None
    rows = [
        ("Image", build_label(target.build if target else None), build_label(after_build)),
        ("Schedule", _words(target.schedule) if target else "—", _words(schedule)),
        ("Timezone", target.timezone if target else "—", tz),
        ("Payload", payload_words(target.payload) if target else "—", payload_words(payload)),
    ]
    policies = params.get("policies") or {}
    for key, value in policies.items():
        now = getattr(target, key) if target else None
        rows.append((POLICY_LABELS.get(key, key), "—" if now is None else str(now), str(value)))
    return [{"label": label, "before": b, "after": a, "changed": a != b} for label, b, a in rows]
