"""Payloads: the JSON a run gets in CHORUS_PAYLOAD, from Run now or fixed per deployment."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError

MAX_PAYLOAD_BYTES = 64 * 1024
# "Leave the deployment's payload as it is" (None clears it).
KEEP = object()


def payload_clean(payload):
    """The payload as JSON data (text is parsed), or None for none; ValidationError when it is
    not JSON or is larger than MAX_PAYLOAD_BYTES once encoded."""
    if payload is None or (isinstance(payload, str) and not payload.strip()):
        return None
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"The payload is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            ) from None
    try:
        text = json.dumps(payload)
    except (TypeError, ValueError):
        raise ValidationError("The payload must be JSON (objects, lists, text, numbers).") from None
    if len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise ValidationError(
            f"The payload is too large ({len(text.encode())} bytes; at most {MAX_PAYLOAD_BYTES})."
        )
    return payload


def payload_text(payload) -> str:
    """The payload as the forms show it (indented JSON), "" for none."""
    return "" if payload is None else json.dumps(payload, indent=2, sort_keys=True)


def payload_words(payload, limit: int = 80) -> str:
    """The payload in one short line, for the deploy log and the promotion diff."""
    if payload is None:
        return "none"
    text = json.dumps(payload, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"
