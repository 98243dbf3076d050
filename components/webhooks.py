"""GitHub push webhooks: verify the signature, match the branch, queue builds.

GitHub signs the raw body with the webhook's secret: `X-Hub-Signature-256: sha256=<hex hmac>`.
Each component has its own secret (shown on its page), so the secret that verifies a delivery
also says which of the repository's components it is for.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import urllib.parse
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from portal import crypto

from .models import Component, WebhookDelivery

logger = logging.getLogger(__name__)


@dataclass
class WebhookResult:
    status: int
    data: dict = field(default_factory=dict)


def signature_for(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str) -> bool:
    if not secret or not header:
        return False
    return hmac.compare_digest(signature_for(secret, body).encode(), header.strip().encode())


def _payload(body: bytes, content_type: str) -> dict:
    """The JSON payload, sent as application/json or as the form field `payload`."""
    if content_type.split(";")[0].strip() == "application/x-www-form-urlencoded":
        form = urllib.parse.parse_qs(body.decode("utf-8", errors="strict"))
        raw = (form.get("payload") or [""])[0]
    else:
        raw = body.decode("utf-8", errors="strict")
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("the payload is not a JSON object")
    return data


def _candidates(full_name: str):
    """Components of this repository: GitHub sources, and git URLs pointing at it."""
    tail = re.escape(full_name) + r"(\.git)?/?$"
    return Component.objects.select_related("project").filter(
        Q(source_kind=Component.SourceKind.GITHUB, repository__iexact=full_name)
        | Q(source_kind=Component.SourceKind.GIT, git_url__iregex=r"[/:]" + tail)
    )


def webhook_push_receive(
    *,
    body: bytes,
    event: str,
    signature: str | None,
    delivery_id: str | None = None,
    content_type: str = "application/json",
) -> WebhookResult:
    """Handle one delivery. 403 and nothing queued unless a component's secret signed it;
    a delivery already accepted once (a replay) is answered and ignored."""
    if not signature:
        return WebhookResult(403, {"error": "missing X-Hub-Signature-256 header"})
    delivery_id = (delivery_id or "").strip()
    if not delivery_id or len(delivery_id) > 100:
        return WebhookResult(400, {"error": "missing or invalid X-GitHub-Delivery header"})
    try:
        payload = _payload(body, content_type)
    except (ValueError, UnicodeDecodeError):
        return WebhookResult(400, {"error": "the body is not valid JSON"})
    repo = payload.get("repository") or {}
    full_name = repo.get("full_name") if isinstance(repo, dict) else None
    if not isinstance(full_name, str) or not full_name:
        if event == "ping":
            return WebhookResult(200, {"note": "pong"})
        return WebhookResult(400, {"error": "the payload names no repository"})
    signed = []
    for component in _candidates(full_name):
        try:
            secret = crypto.decrypt(component.webhook_secret_encrypted)
        except crypto.DecryptionError:
            logger.warning("webhook secret of %s cannot be decrypted", component)
            continue
        if signature_valid(secret, body, signature):
            signed.append(component)
    if not signed:
        return WebhookResult(
            403, {"error": "the signature does not match the secret of any component"}
        )
    if not _first_time(body, delivery_id, event):
        return WebhookResult(
            200, {"note": f"delivery {delivery_id} was already received; nothing done again"}
        )
    names = [f"{c.project.slug}/{c.name}" for c in signed]
    if event == "ping":
        return WebhookResult(200, {"note": "pong", "components": names})
    if event != "push":
        return WebhookResult(200, {"note": f"event “{event}” ignored; only push builds"})
    ref = payload.get("ref")
    if not isinstance(ref, str) or not ref.startswith("refs/"):
        return WebhookResult(400, {"error": "a push payload needs a ref"})
    if payload.get("deleted"):
        return WebhookResult(200, {"note": f"{ref} was deleted; nothing to build"})
    queued, notes = [], []
    for component in signed:
        label = f"{component.project.slug}/{component.name}"
        if not _branch_matches(component, ref, str(repo.get("default_branch") or "")):
            notes.append(f"{label}: push to {ref} ignored (builds from {component.branch})")
            continue
        if not component.auto_build:
            notes.append(f"{label}: auto-build is off")
            continue
        from deployments.builds.services import build_queue

        try:
            build = build_queue(component=component, actor=None, trigger="webhook")
        except ValidationError as exc:
            notes.append(f"{label}: not queued: {' '.join(exc.messages)}")
            continue
        queued.append({"component": label, "build": build.pk})
    status = 202 if queued else 200
    data: dict = {"queued": queued}
    if notes:
        data["note"] = "; ".join(notes)
    return WebhookResult(status, data)


def _first_time(body: bytes, delivery_id: str, event: str) -> bool:
    """Remember this delivery; False when it (its body, or its id) was accepted before."""
    try:
        with transaction.atomic():
            WebhookDelivery.objects.create(
                delivery_id=delivery_id,
                body_sha256=hashlib.sha256(body).hexdigest(),
                event=event[:50],
            )
    except IntegrityError:
        return False
    return True


def _branch_matches(component: Component, ref: str, default_branch: str) -> bool:
    branch = component.branch.strip()
    if not branch or branch == "HEAD":
        # The component follows the repository's default branch, which the payload names.
        branch = default_branch
    if not branch:
        return False
    if branch.startswith("refs/"):
        return ref == branch
    return ref == f"refs/heads/{branch}"
