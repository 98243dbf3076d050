"""Links from the charts to the executions behind them (spelled in one place).

A bar is one status in one time bucket, so its link needs a time range: the project-wide
explorer (observability) filtered to the component takes `from` / `to` as ISO instants; the
component's own list (deployments/executions) filters by env, status, trigger and whole days only.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.urls import reverse


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def executions_url(
    *,
    project_slug: str,
    component_name: str,
    env: str = "",
    status: str = "",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> str:
    """The executions of one component, filtered to one bucket (and status).

    `/p/<project>/executions/?component=&env=&status=&from=&to=` (ISO 8601 UTC).
    """
    params = {"component": component_name, "env": env, "status": status}
    if start is not None:
        params["from"] = _iso(start)
    if end is not None:
        params["to"] = _iso(end)
    query = urlencode({k: v for k, v in params.items() if v})
    return f"{reverse('obs_executions', kwargs={'project_slug': project_slug})}?{query}"
