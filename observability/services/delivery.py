"""Sending alert messages: email through Django mail, webhooks as Slack-compatible JSON.

Every message is an AlertDelivery row; each attempt is claimed first (so two workers never
both send it) and its outcome - HTTP status or error - is recorded on the row.
"""

from __future__ import annotations

import datetime as dt
import logging
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Q
from django.utils import timezone

from portal import crypto, outbound

from ..models import AlertChannel, AlertDelivery

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT = 10


def delivery_send(*, delivery_id: int) -> AlertDelivery | None:
    """One attempt to send a pending delivery. Claimed first, so two workers never both send."""
    claimed = AlertDelivery.objects.filter(
        pk=delivery_id,
        status__in=(AlertDelivery.Status.PENDING, AlertDelivery.Status.FAILED),
        attempts__lt=AlertDelivery.MAX_ATTEMPTS,
        # A second claimant within the same minute finds attempted_at moved on.
    ).filter(
        Q(attempted_at__isnull=True) | Q(attempted_at__lt=timezone.now() - dt.timedelta(seconds=20))
    )
    now = timezone.now()
    if claimed.update(attempted_at=now) != 1:
        return None
    delivery = AlertDelivery.objects.select_related("channel").get(pk=delivery_id)
    status_code, error = _send(delivery.channel, delivery.subject, delivery.message)
    delivery.attempts += 1
    delivery.status_code = status_code
    delivery.error = error[:2000]
    delivery.status = AlertDelivery.Status.FAILED if error else AlertDelivery.Status.SENT
    delivery.save(update_fields=["attempts", "status_code", "error", "status"])
    if error:
        log.warning("alert delivery #%s via %s failed: %s", delivery.pk, delivery.channel, error)
    return delivery


def _checked_webhook_host(host: str | None):
    """(checked addresses, "") or (None, why a webhook may not be sent to this host).

    Chorus refuses webhooks to loopback, private, link-local and the other networks of
    portal/outbound.py (a member could otherwise make the server POST into its own network),
    unless CHORUS_ALERT_WEBHOOK_ALLOW_PRIVATE is set. Checked when the channel is saved and
    again at every send, since DNS answers change; the send connects to the checked address.
    """
    if not host:
        return None, "The webhook URL has no host."
    try:
        return outbound.check_host(
            host, allow_private=settings.CHORUS_ALERT_WEBHOOK_ALLOW_PRIVATE
        ), ""
    except outbound.Refused as refused:
        if refused.ip is None:
            return None, f"The webhook host “{host}” does not resolve."
        return None, (
            f"The webhook host “{refused.where}” is a private address; "
            "set CHORUS_ALERT_WEBHOOK_ALLOW_PRIVATE=true to allow it."
        )


def webhook_target_refusal(host: str | None) -> str:
    """Why a webhook may not be sent to this host, or "" when it may (when a channel is saved;
    with private hosts allowed, a name that does not resolve yet is not refused)."""
    if settings.CHORUS_ALERT_WEBHOOK_ALLOW_PRIVATE and host:
        return ""
    return _checked_webhook_host(host)[1]


def _send(channel: AlertChannel, subject: str, message: str) -> tuple[int | None, str]:
    """(HTTP status or None, error text or "").

    The error text is shown to every member of the project (alerts page, API), so it names the
    webhook's host only: the rest of the URL is its credential (Slack's are), and the
    receiver's answer is not echoed (Chorus must not be a way to read an internal page).
    """
    if channel.kind == AlertChannel.Kind.EMAIL:
        if not channel.addresses:
            return None, "no email addresses configured"
        try:
            send_mail(subject, message, settings.DEFAULT_FROM_EMAIL, channel.addresses)
        except Exception as exc:  # noqa: BLE001 - SMTP errors come in many classes
            return None, f"email not sent: {exc}"
        return None, ""
    try:
        url = crypto.decrypt(channel.webhook_url_encrypted)
    except crypto.DecryptionError as exc:
        return None, str(exc)
    host = urlsplit(url).hostname
    addresses, refusal = _checked_webhook_host(host)
    if refusal:
        return None, refusal
    session = outbound.pin(requests.Session(), host, addresses)
    try:
        # No redirects: a 30x to an internal address would bypass the check above.
        resp = session.post(
            url, json={"text": message}, timeout=WEBHOOK_TIMEOUT, allow_redirects=False
        )
    except requests.Timeout:
        return None, f"webhook at {host} did not answer within {WEBHOOK_TIMEOUT} s"
    except requests.RequestException as exc:
        # requests' messages repeat the URL (path and query: the credential).
        return None, f"webhook at {host} unreachable ({type(exc).__name__})"
    finally:
        session.close()
    if 200 <= resp.status_code < 300:
        return resp.status_code, ""
    return resp.status_code, f"webhook at {host} answered HTTP {resp.status_code}"


def alerts_send_pending(*, older_than_seconds: int = 60) -> int:
    """Send deliveries left pending (a worker died after commit) or failed with attempts left."""
    cutoff = timezone.now() - dt.timedelta(seconds=older_than_seconds)
    ids = list(
        AlertDelivery.objects.filter(
            status__in=(AlertDelivery.Status.PENDING, AlertDelivery.Status.FAILED),
            attempts__lt=AlertDelivery.MAX_ATTEMPTS,
            created_at__lt=cutoff,
        ).values_list("id", flat=True)[:100]
    )
    sent = 0
    for delivery_id in ids:
        d = delivery_send(delivery_id=delivery_id)
        sent += bool(d and d.status == AlertDelivery.Status.SENT)
    return sent
