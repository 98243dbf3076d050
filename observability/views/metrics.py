"""GET /metrics: Prometheus text format behind a bearer token (CHORUS_METRICS_TOKEN).

- token setting empty: 404 with a message saying the exporter is disabled;
- no or wrong `Authorization: Bearer <token>`: 401 with `WWW-Authenticate: Bearer`.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from ..metrics import ChorusCollector

_registry = CollectorRegistry(auto_describe=False)
_registry.register(ChorusCollector())


def _authorized(request, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


@require_GET
def metrics(request):
    token = settings.CHORUS_METRICS_TOKEN
    if not token:
        return HttpResponse(
            "The Prometheus exporter is disabled: set CHORUS_METRICS_TOKEN to enable /metrics.\n",
            status=404,
            content_type="text/plain; charset=utf-8",
        )
    if not _authorized(request, token):
        response = HttpResponse(
            "Unauthorized: send Authorization: Bearer <CHORUS_METRICS_TOKEN>.\n",
            status=401,
            content_type="text/plain; charset=utf-8",
        )
        response["WWW-Authenticate"] = 'Bearer realm="chorus-metrics"'
        return response
    return HttpResponse(generate_latest(_registry), content_type=CONTENT_TYPE_LATEST)
